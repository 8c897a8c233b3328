import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { describe, expect, inject, it } from "vitest";
import { AuthInternalService } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { AuthService } from "@caas/gen/caas/auth/v1/auth_service_pb.js";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { RealtimeService } from "@caas/gen/caas/realtime/v1/realtime_service_pb.js";
import { bufCli } from "../support/clients.js";
import { readLogLines } from "../support/spawn-platform.js";

const platform = inject("embedded");
const gateway = platform.endpoints.gateway!;
const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();

const withHeaders =
  (headers: Record<string, string>): Interceptor =>
  (next) =>
  (req) => {
    for (const [k, v] of Object.entries(headers)) req.header.set(k, v);
    return next(req);
  };
const transports = (baseUrl: string, headers: Record<string, string> = {}): Record<string, Transport> => ({
  "gRPC over HTTP/2": createGrpcTransport({ baseUrl, interceptors: [withHeaders(headers)] }),
  "Connect over HTTP/1.1": createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [withHeaders(headers)] }),
  "gRPC-web over HTTP/1.1": createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors: [withHeaders(headers)] }),
});
const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );

describe("the gateway forwards every public service to its owner", () => {
  it("lists the public services through reflection, and no internal one", async () => {
    const listed = (await bufCli(["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--list-services", gateway])).trim().split("\n");
    for (const s of [
      "caas.auth.v1.TenantAdminService",
      "caas.auth.v1.UserAdminService",
      "caas.auth.v1.AuthService",
      "caas.chat.v1.ChatService",
      "caas.realtime.v1.RealtimeService",
      "caas.gateway.v1.PlatformService",
    ]) {
      expect(listed).toContain(s);
    }
    expect(listed.filter((s) => s.includes("Internal"))).toEqual([]);
  });

  for (const [label] of Object.entries(transports(gateway))) {
    it(`runs the first steps through the one gateway port (${label})`, async () => {
      const admin = createClient(TenantAdminService, transports(gateway, bearer(adminCredential))[label]!);
      const { tenant } = await admin.createTenant({ name: `Edge ${label}` });
      const { secret } = await admin.createApiKey({ tenantId: tenant!.id, name: "backend" });
      const backend = createClient(UserAdminService, transports(gateway, bearer(secret))[label]!);
      await backend.upsertUser({ userId: "dana", displayName: "Dana" });
      const { tokens } = await backend.issueUserToken({ userId: "dana", deviceId: "dana-web" });
      expect(tokens?.accessToken.split(".")).toHaveLength(3);
      const jwks = await createClient(AuthService, transports(gateway)[label]!).getJwks({});
      expect(JSON.stringify(jwks)).toContain("Ed25519");
    });
  }

  it("answers exactly what the owner answers (codes and messages pass through)", async () => {
    const admin = createClient(TenantAdminService, transports(gateway, bearer(adminCredential))["gRPC over HTTP/2"]!);
    const { tenant } = await admin.createTenant({ name: "Passthrough" });
    const { secret } = await admin.createApiKey({ tenantId: tenant!.id, name: "backend" });
    const backend = createClient(UserAdminService, transports(gateway, bearer(secret))["gRPC over HTTP/2"]!);
    await backend.upsertUser({ userId: "erin", displayName: "Erin" });
    const { tokens } = await backend.issueUserToken({ userId: "erin", deviceId: "erin-web" });
    const user = bearer(tokens!.accessToken);
    const request = { conversationId: "0190d2a4-5b6c-7d8e-9f01-23456789abcd" };
    const direct = await failure(createClient(ChatService, transports(platform.endpoints.chat!, user)["gRPC over HTTP/2"]!).getConversation(request));
    const viaEdge = await failure(createClient(ChatService, transports(gateway, user)["gRPC over HTTP/2"]!).getConversation(request));
    expect(direct).toBeDefined();
    expect(viaEdge?.code).toBe(direct?.code);
    expect(viaEdge?.rawMessage).toBe(direct?.rawMessage);
    // A tenant id of another tenant's user is the owner's business too: unknown user ids read as NOT_FOUND.
    const other = await failure(createClient(UserAdminService, transports(gateway, bearer(secret))["gRPC over HTTP/2"]!).getUser({ userId: "nobody-here" }));
    expect(other?.code).toBe(Code.NotFound);
  });

  it("forwards server streams and their errors", async () => {
    const err = await (async () => {
      try {
        for await (const _ of createClient(RealtimeService, transports(gateway)["gRPC over HTTP/2"]!).subscribe({})) {
          // no frame is expected
        }
        return undefined;
      } catch (e) {
        return ConnectError.from(e);
      }
    })();
    // The socket service's own answer (UNIMPLEMENTED when it is not served,
    // UNAUTHENTICATED for a caller without a token) arrives through the gateway unchanged.
    expect([Code.Unimplemented, Code.Unauthenticated]).toContain(err?.code);
    expect(err?.rawMessage).not.toMatch(/gateway/i);
  });

  it("refuses a bad access token at the edge, before any owner sees the call", async () => {
    const id = `edge-bad-${Date.now()}`;
    const err = await failure(
      createClient(ChatService, transports(gateway, { ...bearer("eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln"), "x-correlation-id": id })["gRPC over HTTP/2"]!).getConversation({
        conversationId: "0190d2a4-5b6c-7d8e-9f01-23456789abcd",
      }),
    );
    expect(err?.code).toBe(Code.Unauthenticated);
    await new Promise((r) => setTimeout(r, 100));
    const services = new Set(
      platform.logFiles
        .flatMap(readLogLines)
        .filter((l) => l.correlationId === id)
        .map((l) => l.service),
    );
    expect([...services]).toEqual(["gateway"]);
  });

  it("keeps internal services unreachable through the edge", async () => {
    const err = await failure(createClient(AuthInternalService, transports(gateway)["gRPC over HTTP/2"]!).listRevocations({}));
    expect(err?.code).toBe(Code.Unimplemented);
  });

  it("carries the correlation id from the edge into the owner's log line", async () => {
    const id = `edge-corr-${Date.now()}`;
    await createClient(AuthService, transports(gateway, { "x-correlation-id": id })["Connect over HTTP/1.1"]!).getJwks({});
    await new Promise((r) => setTimeout(r, 100));
    const lines = platform.logFiles.flatMap(readLogLines).filter((l) => l.correlationId === id && l.rpc === "caas.auth.v1.AuthService/GetJwks");
    expect(new Set(lines.map((l) => l.service))).toEqual(new Set(["gateway", "auth"]));
  });
});
