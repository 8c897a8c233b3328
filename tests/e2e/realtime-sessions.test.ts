import { readFileSync } from "node:fs";
import { join } from "node:path";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { AuthService } from "@caas/gen/caas/auth/v1/auth_service_pb.js";
import { CloseCode, type Closing, type ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { bearer, grpcConnection, tenantWithUsers, wsConnection, type RealtimeConnection } from "./realtime-clients.js";

const platform = inject("embedded");

let nextId = 1n;
const id = () => nextId++;
const closingOf = (f: ServerFrame): Closing | undefined => (f.frame.case === "closing" ? f.frame.value : undefined);

/** An authenticated connection for `token` on WebSocket or gRPC bidi. */
async function connect(kind: "ws" | "grpc", baseUrl: string, token: string, label: string): Promise<RealtimeConnection> {
  const c = kind === "ws" ? await wsConnection(baseUrl, label) : grpcConnection(baseUrl, undefined, label);
  const ok = await c.call({ id: id(), frame: { case: "auth", value: { accessToken: token } } });
  expect(ok.frame.case, `${label} auth`).toBe("authOk");
  return c;
}

/** Waits for Closing `code` and the end of the transport; returns the ms it took from `since`. */
async function closedWith(c: RealtimeConnection, code: CloseCode, since: number, ms = 5_000): Promise<number> {
  const closing = closingOf(await c.waitFor((f) => f.frame.case === "closing", ms, "Closing"));
  const elapsed = performance.now() - since;
  expect(closing?.code, `${c.label} close code`).toBe(code);
  const end = await c.waitClosed(ms);
  if (c.label.includes("ws")) expect(end.code, `${c.label} WebSocket status`).toBe(4000 + code);
  return elapsed;
}

/** Proves a connection still works: a ping gets its pong. */
async function stillOpen(c: RealtimeConnection): Promise<void> {
  const pong = await c.call({ id: id(), frame: { case: "ping", value: { nonce: 7n } } });
  expect(pong.frame.case, `${c.label} pong`).toBe("pong");
}

describe("realtime sessions: revocation closes streams within 2 s, re-auth (embedded platform)", () => {
  const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();
  const socketUrl = platform.endpoints.socket!;
  const authUrl = platform.endpoints.auth!;
  const authAs = (token?: string) => createClient(AuthService, createGrpcTransport({ baseUrl: authUrl, interceptors: token ? [bearer(token)] : [] }));
  let t: Awaited<ReturnType<typeof tenantWithUsers>>;

  beforeAll(async () => {
    t = await tenantWithUsers(authUrl, adminCredential, ["alice", "bob", "carol"]);
  });

  it("closes every stream of a signed-out session with REVOKED within 2 s; the user's other session stays", async () => {
    const phone = await t.issue("alice", "phone");
    const laptop = await t.issue("alice", "laptop");
    const phoneWs = await connect("ws", socketUrl, phone.accessToken, "phone-ws");
    const phoneGrpc = await connect("grpc", socketUrl, phone.accessToken, "phone-grpc");
    const laptopWs = await connect("ws", socketUrl, laptop.accessToken, "laptop-ws");
    const start = performance.now();
    await authAs(phone.accessToken).signOut({});
    for (const c of [phoneWs, phoneGrpc]) expect(await closedWith(c, CloseCode.REVOKED, start)).toBeLessThan(2_000);
    await stillOpen(laptopWs);
    laptopWs.close();
  });

  it("closes a session revoked from another device, and refuses its token on a new connection", async () => {
    const phone = await t.issue("bob", "phone");
    const laptop = await t.issue("bob", "laptop");
    const phoneGrpc = await connect("grpc", socketUrl, phone.accessToken, "bob-phone-grpc");
    const start = performance.now();
    await authAs(laptop.accessToken).revokeSession({ sessionId: phone.sessionId });
    expect(await closedWith(phoneGrpc, CloseCode.REVOKED, start)).toBeLessThan(2_000);
    const again = await wsConnection(socketUrl, "bob-phone-ws-again");
    const refused = await again.call({ id: id(), frame: { case: "auth", value: { accessToken: phone.accessToken } } });
    expect(refused.frame).toMatchObject({ case: "error", value: { code: Code.Unauthenticated } });
    await closedWith(again, CloseCode.REVOKED, performance.now());
  });

  it("closes every session of a deactivated user within 2 s, on both transports", async () => {
    const one = await t.issue("carol", "phone");
    const two = await t.issue("carol", "tablet");
    const conns = [await connect("ws", socketUrl, one.accessToken, "carol-ws"), await connect("grpc", socketUrl, two.accessToken, "carol-grpc")];
    const start = performance.now();
    await t.backend.deactivateUser({ userId: "carol" });
    for (const c of conns) expect(await closedWith(c, CloseCode.REVOKED, start)).toBeLessThan(2_000);
  });

  it("closes every session of a suspended tenant within 2 s", async () => {
    const other = await tenantWithUsers(authUrl, adminCredential, ["erin", "frank"]);
    const conns = [await connect("ws", socketUrl, other.token("erin"), "erin-ws"), await connect("grpc", socketUrl, other.token("frank"), "frank-grpc")];
    const bystander = await connect("ws", socketUrl, t.token("alice"), "alice-bystander-ws");
    const start = performance.now();
    await other.admin.suspendTenant({ tenantId: other.tenantId, reason: "realtime e2e" });
    for (const c of conns) expect(await closedWith(c, CloseCode.REVOKED, start)).toBeLessThan(2_000);
    await stillOpen(bystander);
    bystander.close();
  });

  for (const kind of ["ws", "grpc"] as const) {
    it(`re-authenticates with a refreshed token of the same session (${kind}), answering AuthOk with the new expiry`, async () => {
      const s = await t.issue("alice", `reauth-${kind}`);
      const c = await connect(kind, socketUrl, s.accessToken, `alice-reauth-${kind}`);
      const first = c.frames.find((f) => f.frame.case === "authOk")!.frame.value as { expireTime?: Parameters<typeof timestampMs>[0] };
      await new Promise((r) => setTimeout(r, 1_100));
      const { tokens } = await authAs().refreshToken({ refreshToken: s.refreshToken });
      expect(tokens!.sessionId).toBe(s.sessionId);
      const reply = await c.call({ id: id(), frame: { case: "reauth", value: { accessToken: tokens!.accessToken } } });
      expect(reply.frame.case).toBe("authOk");
      const ok = reply.frame.value as { userId: string; sessionId: string; expireTime?: Parameters<typeof timestampMs>[0] };
      expect(ok).toMatchObject({ userId: "alice", sessionId: s.sessionId });
      expect(timestampMs(ok.expireTime!)).toBeGreaterThan(timestampMs(first.expireTime!));
      await stillOpen(c);
      c.close();
    });

    it(`refuses a re-auth token of another user (${kind}) with a FrameError, then closes AUTH_FAILED`, async () => {
      const c = await connect(kind, socketUrl, t.token("alice"), `alice-wrong-${kind}`);
      const reply = await c.call({ id: id(), frame: { case: "reauth", value: { accessToken: t.token("bob") } } });
      expect(reply.frame).toMatchObject({ case: "error", value: { code: Code.PermissionDenied } });
      await closedWith(c, CloseCode.AUTH_FAILED, performance.now());
    });
  }

  it("refuses a garbage re-auth token with a FrameError and AUTH_FAILED", async () => {
    const c = await connect("ws", socketUrl, t.token("alice"), "alice-garbage-ws");
    const reply = await c.call({ id: id(), frame: { case: "reauth", value: { accessToken: "not-a-jwt" } } });
    expect(reply.frame).toMatchObject({ case: "error", value: { code: Code.Unauthenticated } });
    await closedWith(c, CloseCode.AUTH_FAILED, performance.now());
  });
});

describe.skipIf(!inject("cluster"))("revocation across two socket instances (cluster)", () => {
  const c = inject("cluster")!;

  it("closes a signed-out session's streams on socket-1 and socket-2 with REVOKED within 2 s", async () => {
    const url = (instanceId: string) => c.instances.find((i) => i.instanceId === instanceId)!.url;
    const t = await tenantWithUsers(c.endpoints.auth!, c.adminToken, ["gus"]);
    const s = await t.issue("gus", "phone");
    const conns = [await connect("ws", url("socket-1"), s.accessToken, "gus-ws@socket-1"), await connect("grpc", url("socket-2"), s.accessToken, "gus-grpc@socket-2")];
    const start = performance.now();
    await createClient(AuthService, createGrpcTransport({ baseUrl: c.endpoints.auth!, interceptors: [bearer(s.accessToken)] })).signOut({});
    for (const x of conns) expect(await closedWith(x, CloseCode.REVOKED, start)).toBeLessThan(2_000);
  });
});
