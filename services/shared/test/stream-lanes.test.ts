import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as S } from "@caas/gen/grpc/health/v1/health_pb.js";
import { createPeerClient, PeerDirectory } from "../src/clients.js";
import { createStreamLanes } from "../src/stream-lanes.js";

/** The first message of a Watch stream, or "stalled" when none came within `ms`. */
async function firstMessage(stream: AsyncIterable<{ status: S }>, ms: number): Promise<S | "stalled"> {
  const it = stream[Symbol.asyncIterator]();
  const timer = new Promise<"stalled">((resolve) => setTimeout(() => resolve("stalled"), ms));
  const got = await Promise.race([it.next().then((r) => (r.done ? "stalled" : r.value.status)), timer]);
  return got;
}

/**
 * Long-lived streams to one peer instance are spread over several HTTP/2 connections: a peer
 * allowing 3 concurrent streams per connection still serves 5 open Watch streams from one client
 * whose lanes carry 2 each. Over one connection the fourth stream would wait unsent, with no
 * error, for ever. Lanes stay below the peer's limit, as in production (100 against 1000): a
 * stream the client has cancelled may still count at the peer for a moment.
 */
describe("stream lanes: streams beyond a peer's per-connection limit", () => {
  let server: http2.Http2Server;
  let url: string;
  const sessions = new Set<http2.ServerHttp2Session>();

  beforeAll(async () => {
    server = http2.createServer(
      { settings: { maxConcurrentStreams: 3 } },
      connectNodeAdapter({
        routes: (router) =>
          router.service(Health, {
            check: () => ({ status: S.SERVING }),
            // Says SERVING once, then stays open until the caller goes.
            async *watch(_req, ctx) {
              yield { status: S.SERVING };
              await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
            },
          }),
      }),
    );
    server.on("session", (s) => sessions.add(s));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const s of sessions) s.destroy();
    await new Promise((r) => server.close(r));
  });

  it("a peer client opens another connection when a connection carries its share of streams", async () => {
    const dir = new PeerDirectory();
    dir.set("socket", [url]);
    const client = createPeerClient(Health, "socket", dir, { defaultTimeoutMs: 0, streamsPerConnection: 2 });
    const stop = new AbortController();
    const before = sessions.size;
    const streams = Array.from({ length: 5 }, () => client.watch({ service: "" }, { signal: stop.signal }));
    const first = await Promise.all(streams.map((s) => firstMessage(s, 5_000)));
    expect(first).toEqual([S.SERVING, S.SERVING, S.SERVING, S.SERVING, S.SERVING]);
    expect(sessions.size - before).toBe(3);
    stop.abort();
  });

  it("counts a lane's streams down when they end or are cancelled, and reuses the room", async () => {
    const lanes = createStreamLanes(() => createGrpcTransport({ baseUrl: url }), 2);
    const client = createClient(Health, lanes);
    const a = new AbortController();
    const b = new AbortController();
    const first = [client.watch({}, { signal: a.signal }), client.watch({}, { signal: a.signal }), client.watch({}, { signal: b.signal })];
    expect(await Promise.all(first.map((s) => firstMessage(s, 5_000)))).toEqual([S.SERVING, S.SERVING, S.SERVING]);
    expect(lanes.laneCounts()).toEqual([2, 1]);
    a.abort();
    // The cancelled iterators finish once they observe the abort.
    await Promise.all(first.slice(0, 2).map(async (s) => expect(await drain(s)).toBe("ended")));
    expect(lanes.laneCounts()).toEqual([0, 1]);
    const again = client.watch({}, { signal: b.signal });
    expect(await firstMessage(again, 5_000)).toBe(S.SERVING);
    expect(lanes.laneCounts()).toEqual([1, 1]);
    b.abort();
  });

  it("without lanes, the stream over the peer's limit is never served: refused, or held unsent once the client knows the limit (why lanes exist)", async () => {
    const single = createClient(Health, createGrpcTransport({ baseUrl: url }));
    const stop = new AbortController();
    const outcome = (s: AsyncIterable<{ status: S }>) => firstMessage(s, 1_500).catch((e: unknown) => (String(e).includes("REFUSED_STREAM") ? "refused" : String(e)));
    const streams = Array.from({ length: 4 }, () => single.watch({}, { signal: stop.signal }));
    const first = await Promise.all(streams.map(outcome));
    expect(first.slice(0, 3)).toEqual([S.SERVING, S.SERVING, S.SERVING]);
    expect(["refused", "stalled"]).toContain(first[3]);
    // Once the connection's SETTINGS are known, a further stream is held: no answer, no error.
    expect(await outcome(single.watch({}, { signal: stop.signal }))).toBe("stalled");
    stop.abort();
  });
});

/** Reads a stream to its end; "ended" whether it ended cleanly or with the cancel error. */
async function drain(stream: AsyncIterable<unknown>): Promise<"ended"> {
  try {
    for await (const _ of stream) void _;
  } catch {
    // Cancelled by the caller: the end this test waits for.
  }
  return "ended";
}
