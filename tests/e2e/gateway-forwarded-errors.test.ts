import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { describe, expect, inject, it } from "vitest";
import { AuthService } from "@caas/gen/caas/auth/v1/auth_service_pb.js";
import { allTransports } from "../support/clients.js";

const platform = inject("embedded");

/*
 * An owner's error forwarded by the gateway keeps its code, message and details on every protocol.
 * (Regression: the owner's gRPC content-type leaked into the gateway's Connect error response, so
 * HTTP/1.1 Connect clients saw only the HTTP status: NOT_FOUND came back as UNIMPLEMENTED, 404.)
 */
describe("errors forwarded by the gateway", () => {
  for (const [name, transport] of Object.entries(allTransports(platform.endpoints.gateway!))) {
    it(`keep their code and details (${name})`, async () => {
      const auth = createClient(AuthService, transport);
      const call = (tenantId: string) =>
        auth.signIn({ tenantId, login: { case: "email", value: "nobody@example.com" }, password: "x", deviceId: "d" }).then(
          () => {
            throw new Error("expected the call to fail");
          },
          (e: unknown) => ConnectError.from(e),
        );
      // Judged by the owner (auth): an unknown tenant.
      const notFound = await call("01a215af-6132-725b-bc47-064e28d115d4");
      expect(notFound.code).toBe(Code.NotFound);
      expect(notFound.rawMessage).toMatch(/tenant/);
      // Refused by the gateway's own validation, with field details.
      const invalid = await call("not-a-uuid");
      expect(invalid.code).toBe(Code.InvalidArgument);
      expect(invalid.details.length).toBeGreaterThan(0);
    });
  }
});
