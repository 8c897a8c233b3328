import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { describe, expect, inject, it } from "vitest";
import { AuthService } from "@caas/gen/caas/auth/v1/auth_service_pb.js";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { allTransports } from "../support/clients.js";
import { bearer } from "../support/tenants.js";

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
      // Refused by the owner's validation (an anonymous caller), with field details.
      const invalid = await call("not-a-uuid");
      expect(invalid.code).toBe(Code.InvalidArgument);
      expect(invalid.details.length).toBeGreaterThan(0);
    });
  }
});

/*
 * The caller is authenticated before the request is validated: a wrong credential with an
 * incomplete body is UNAUTHENTICATED, never INVALID_ARGUMENT (which would describe the request
 * shape to someone who may not call it), through the gateway and at each owner.
 */
describe("authentication before validation", () => {
  const wrongKey = "caas_k_0000000000000000_not-a-key-of-anyone";
  for (const [name, transport] of Object.entries(allTransports(platform.endpoints.gateway!, [bearer(wrongKey)]))) {
    it(`a wrong API key with an empty UpdateTenant is UNAUTHENTICATED through the gateway (${name})`, async () => {
      const err = await createClient(TenantAdminService, transport)
        .updateTenant({})
        .then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        );
      expect(err?.code).toBe(Code.Unauthenticated);
    });
  }

  it.each([
    ["auth", "gateway"],
    ["auth", "auth"],
    ["chat", "gateway"],
    ["chat", "chat"],
  ])("a wrong credential with an empty %s request is UNAUTHENTICATED at the %s", async (owner, at) => {
    const transport = createGrpcTransport({ baseUrl: platform.endpoints[at]!, interceptors: [bearer(wrongKey)] });
    const call = owner === "auth" ? createClient(TenantAdminService, transport).updateTenant({}) : createClient(ChatService, transport).createConversation({});
    const err = await call.then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.Unauthenticated);
  });
});
