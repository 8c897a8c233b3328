import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as S } from "@caas/gen/grpc/health/v1/health_pb.js";
import { GuardedSessionManager } from "../src/clients.js";

/**
 * connect-node can destroy a session with "PING timed out" after it stopped listening for that
 * session's errors (connectrpc/connect-es#1795); the peer transports' session manager keeps a
 * listener of its own on every session, so such a late error cannot end the process.
 */
describe("peer transports' HTTP/2 sessions", () => {
  let server: http2.Http2Server;
  let url = "";
  const sessions = new Set<http2.ServerHttp2Session>();

  beforeAll(async () => {
    server = http2.createServer(connectNodeAdapter({ routes: (r) => r.service(Health, { check: () => ({ status: S.SERVING }) }) }));
    server.on("session", (s) => sessions.add(s));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const s of sessions) s.destroy();
    await new Promise((r) => server.close(r));
  });

  /** Makes one call through `manager`, then lets the manager drop the session (as after a state change), and returns it. */
  async function abandonedSession(manager: Http2SessionManager): Promise<http2.Http2Session> {
    const client = createClient(Health, createGrpcTransport({ baseUrl: url, sessionManager: manager }));
    expect((await client.check({ service: "" })).status).toBe(S.SERVING);
    const stream = await manager.request("POST", "/grpc.health.v1.Health/Check", { "content-type": "application/grpc" }, {});
    stream.on("error", () => undefined); // the abort below fails this stream too
    const session = stream.session!;
    stream.close();
    manager.abort();
    // Let the manager's own destroy settle (it swallows that one error itself).
    await new Promise((r) => setTimeout(r, 50));
    return session;
  }

  it("a late session error after connect-node let go of the session is not an uncaught 'error'", async () => {
    const session = await abandonedSession(new GuardedSessionManager(url, { pingIntervalMs: 30_000, pingTimeoutMs: 15_000 }));
    expect(() => session.emit("error", new ConnectError("PING timed out", Code.Unavailable))).not.toThrow();
  });

  it("(connect-node's own manager lets that error escape: the failure the guard is for)", async () => {
    const session = await abandonedSession(new Http2SessionManager(url, { pingIntervalMs: 30_000, pingTimeoutMs: 15_000 }));
    expect(() => session.emit("error", new ConnectError("PING timed out", Code.Unavailable))).toThrow(/PING timed out/);
  });

  it("a guarded transport still serves calls after its session was dropped", async () => {
    const manager = new GuardedSessionManager(url, { pingIntervalMs: 30_000, pingTimeoutMs: 15_000 });
    await abandonedSession(manager);
    const client = createClient(Health, createGrpcTransport({ baseUrl: url, sessionManager: manager }));
    expect((await client.check({ service: "" })).status).toBe(S.SERVING);
  });
});
