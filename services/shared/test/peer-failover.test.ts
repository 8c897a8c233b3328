import http2 from "node:http2";
import { createServer, type AddressInfo, type Server } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as S } from "@caas/gen/grpc/health/v1/health_pb.js";
import { createPeerClient, PeerDirectory } from "../src/clients.js";
import { FakeClock } from "../src/clock.js";

/**
 * Round-robin over peer instances skips one that just failed with UNAVAILABLE (a killed chat
 * process), and a refused connection is sent once more to another instance.
 */
describe("peer clients fail over from an unavailable instance", () => {
  let live: http2.Http2Server;
  let liveUrl: string;
  let liveCalls = 0;
  const sessions = new Set<http2.ServerHttp2Session>();
  // Accepts TCP connections and drops them at once: calls fail with UNAVAILABLE after connecting.
  let dropping: Server;
  let droppingUrl: string;
  let droppedConnections = 0;
  // Reads the request's first bytes, then resets the connection (TCP RST): ECONNRESET mid-call,
  // like a process killed while serving.
  let resetting: Server;
  let resettingUrl: string;
  // Nothing listens here: the connection is refused.
  let refusedUrl: string;

  const listen = (srv: Server | http2.Http2Server) => new Promise<string>((resolve) => srv.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(srv.address() as AddressInfo).port}`)));

  beforeAll(async () => {
    live = http2.createServer(
      connectNodeAdapter({
        routes: (router) =>
          router.service(Health, {
            check: () => {
              liveCalls++;
              return { status: S.SERVING };
            },
          }),
      }),
    );
    live.on("session", (session) => sessions.add(session));
    liveUrl = await listen(live);
    dropping = createServer((socket) => {
      droppedConnections++;
      socket.destroy();
    });
    droppingUrl = await listen(dropping);
    // (After a moment: an immediate reset reads as an HTTP/2 CANCEL instead.)
    resetting = createServer((socket) => socket.once("data", () => setTimeout(() => socket.resetAndDestroy(), 30)));
    resettingUrl = await listen(resetting);
    const closed = createServer();
    refusedUrl = await listen(closed);
    await new Promise((r) => closed.close(r));
  });

  afterAll(async () => {
    await new Promise((r) => dropping.close(r));
    await new Promise((r) => resetting.close(r));
    // The peer clients keep their HTTP/2 sessions open (cached transports): end them.
    for (const session of sessions) session.destroy();
    await new Promise((r) => live.close(r));
  });

  const failure = (p: Promise<unknown>) =>
    p.then(
      () => expect.fail("the call should have failed"),
      (e: unknown) => ConnectError.from(e),
    );

  it("sends a call whose connection was refused to the other instance, and skips the refusing one", async () => {
    const clock = new FakeClock();
    const dir = new PeerDirectory(clock, 2_000);
    dir.set("chat", [refusedUrl, liveUrl]);
    const client = createPeerClient(Health, "chat", dir);
    const before = liveCalls;
    for (let i = 0; i < 6; i++) expect((await client.check({ service: "" })).status).toBe(S.SERVING);
    expect(liveCalls - before).toBe(6);
    expect(dir.available("chat")).toEqual([liveUrl]);
    clock.advance(2_001);
    expect(dir.available("chat")).toEqual([refusedUrl, liveUrl]);
  });

  it("passes an UNAVAILABLE failure of a connected call on, then skips that instance until the cooldown ends", async () => {
    const clock = new FakeClock();
    const dir = new PeerDirectory(clock, 2_000);
    dir.set("chat", [droppingUrl, liveUrl]);
    const client = createPeerClient(Health, "chat", dir);
    // Round-robin starts with the dropping instance: the call may have reached it, so it is not
    // resent (the caller decides, e.g. a send retried with its client_message_id). The reset
    // stream reads as UNAVAILABLE, not as a cancel the caller never made.
    expect((await failure(client.check({ service: "" }))).code).toBe(Code.Unavailable);
    const dropped = droppedConnections;
    expect(dropped).toBeGreaterThan(0);
    for (let i = 0; i < 6; i++) expect((await client.check({ service: "" })).status).toBe(S.SERVING);
    expect(droppedConnections).toBe(dropped);
    // After the cooldown the instance gets another chance (it may have been restarted).
    clock.advance(2_001);
    const results = await Promise.allSettled([client.check({ service: "" }), client.check({ service: "" })]);
    expect(results.filter((r) => r.status === "rejected")).toHaveLength(1);
    expect(droppedConnections).toBeGreaterThan(dropped);
  });

  it("reports a connection reset under a call (connect-node: ABORTED) as UNAVAILABLE and skips that instance", async () => {
    const dir = new PeerDirectory(new FakeClock(), 2_000);
    dir.set("chat", [resettingUrl, liveUrl]);
    const client = createPeerClient(Health, "chat", dir);
    const err = await failure(client.check({ service: "" }));
    expect(err.code).toBe(Code.Unavailable);
    expect(err.message).toContain("went away mid-call");
    expect(dir.available("chat")).toEqual([liveUrl]);
  });

  it("still calls the instances when every one is unavailable, and never redirects a pinned call", async () => {
    const dir = new PeerDirectory(new FakeClock(), 2_000);
    dir.set("chat", [refusedUrl]);
    const client = createPeerClient(Health, "chat", dir);
    expect((await failure(client.check({ service: "" }))).message).toContain("ECONNREFUSED");
    expect(dir.available("chat")).toEqual([refusedUrl]);
    expect((await failure(client.check({ service: "" }))).code).toBe(Code.Unavailable);

    dir.set("chat", [refusedUrl, liveUrl]);
    const pinned = createPeerClient(Health, "chat", dir, { url: refusedUrl });
    const before = liveCalls;
    expect((await failure(pinned.check({ service: "" }))).code).toBe(Code.Unavailable);
    expect(liveCalls).toBe(before);
  });
});
