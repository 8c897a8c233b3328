import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type HandlerContext, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { EventSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { ServerFrameSchema, type ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { RealtimeService, SubscribeRequestSchema, SubscribeResponseSchema } from "@caas/gen/caas/realtime/v1/realtime_service_pb.js";
import { ErrorInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { createCorrelationInterceptor } from "@caas/shared/interceptors/correlation";
import { createLogger } from "@caas/shared/logger";
import { PeerDirectory } from "@caas/shared/clients";
import { envelope, rawStreamBodyKey } from "@caas/shared/server/raw-stream-body";
import { createRpcHandler } from "@caas/shared/server/rpc-handler";
import { createForwarder } from "../src/forwarding.js";
import { relayedResponse } from "../src/stream-relay.js";

/** The frames the owner's Subscribe pushes: a reply, pushed events with nested messages, a ping answer. */
const FRAMES: ServerFrame[] = [
  create(ServerFrameSchema, { replyTo: 0n, frame: { case: "authOk", value: { connectionId: "conn-1", heartbeatInterval: { seconds: 30n } } } }),
  create(ServerFrameSchema, {
    frame: {
      case: "event",
      value: create(EventSchema, {
        conversationId: "c1",
        seq: 7n,
        eventId: "e7",
        actorId: "ann",
        createTime: { seconds: 1n, nanos: 5 },
        payload: { case: "messageCreated", value: { message: { text: "héllo" } } },
      }),
    },
  }),
  create(ServerFrameSchema, { frame: { case: "event", value: create(EventSchema, { conversationId: "c1", seq: 8n, eventId: "e8" }) } }),
  create(ServerFrameSchema, { replyTo: 9n, frame: { case: "pong", value: { nonce: 42n } } }),
];

/** Pushed events after FRAMES in the owner's raw modes: enough for many envelopes per chunk. */
const BURST: ServerFrame[] = Array.from({ length: 300 }, (_, i) =>
  create(ServerFrameSchema, { frame: { case: "event", value: create(EventSchema, { conversationId: "c2", seq: BigInt(100 + i), eventId: `b${i}` }) } }),
);

/** What the owner saw of one Subscribe stream. */
interface Seen {
  authorization: string | null;
  correlationId: string | null;
  aborted: boolean;
  /** Bytes the caller's side has taken of the owner's raw body (raw modes). */
  pulled: number;
}

/** `frames` as the enveloped SubscribeResponses they are on the wire, cut into chunks of 7, 61, 7, 61... bytes: several messages per chunk, and messages split across chunks. */
function oddChunks(frames: ServerFrame[]): Uint8Array[] {
  const bytes = Buffer.concat(frames.map((frame) => envelope(toBinary(SubscribeResponseSchema, create(SubscribeResponseSchema, { frame })))));
  const out: Uint8Array[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = i % 2 === 0 ? 7 : 61;
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** The owner's stream after its first message in the raw modes: `chunks`, then (endless) more events until `signal` aborts, counting what was taken. */
async function* rawSource(chunks: Uint8Array[], endless: boolean, call: Seen, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  for (const c of chunks) {
    call.pulled += c.byteLength;
    yield c;
  }
  const more = oddChunks(BURST.slice(0, 20));
  while (endless && !signal.aborted) {
    for (const c of more) {
      call.pulled += c.byteLength;
      yield c;
    }
  }
}

/**
 * The gateway's forwarder relays the owner's server-stream messages as bytes: a real HTTP/2
 * gateway (correlation interceptor, forwarder) in front of a RealtimeService stand-in whose
 * Subscribe pushes FRAMES, then ends as the request's `conversation_ids[0]` says: "fail" with an
 * error (code, message, details), "hold" open until cancelled, anything else cleanly.
 */
describe("gateway stream relay: the owner's stream messages, end and cancellation reach the caller", () => {
  const servers: http2.Http2Server[] = [];
  const sessions = new Set<http2.ServerHttp2Session>();
  const seen: Seen[] = [];
  let gatewayUrl = "";

  const listen = async (handler: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void) => {
    const srv = http2.createServer(handler);
    srv.on("session", (s) => sessions.add(s));
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  };

  const logger = createLogger({ service: "gateway-test", instance: "t", level: "silent" });
  const notFound = (_req: unknown, res: { writeHead(status: number): { end(): void } }): void => res.writeHead(404).end();

  beforeAll(async () => {
    // Both ends served as services are (createRpcHandler), so the owner may write raw bytes and
    // the gateway relays a binary caller's stream as bytes (RawStreamBody, stream-body-relay.ts).
    const socketUrl = await listen(
      createRpcHandler({
        logger,
        fallback: notFound,
        routes: (router) =>
          router.service(RealtimeService, {
            subscribe: async function* (req, ctx: HandlerContext) {
              const call: Seen = { authorization: ctx.requestHeader.get("authorization"), correlationId: ctx.requestHeader.get("x-correlation-id"), aborted: false, pulled: 0 };
              seen.push(call);
              ctx.signal.addEventListener("abort", () => (call.aborted = true), { once: true });
              const how = req.conversationIds[0] ?? "";
              const raw = ctx.values.get(rawStreamBodyKey);
              if (how.startsWith("raw-")) {
                // The owner writes every message after the first as raw bytes, as the socket service does.
                raw!.attach(rawSource(oddChunks([...FRAMES.slice(1), ...BURST]), how === "raw-endless", call, ctx.signal));
                yield create(SubscribeResponseSchema, { frame: FRAMES[0] });
              } else for (const frame of FRAMES) yield create(SubscribeResponseSchema, { frame });
              if (how === "fail" || how === "raw-fail") {
                const info = create(ErrorInfoSchema, { reason: "SLOW_CONSUMER", domain: "caas.dev" });
                throw new ConnectError("the stream fell behind", Code.ResourceExhausted, { "x-owner-note": "kept" }, [{ desc: ErrorInfoSchema, value: info }]);
              }
              if (how === "hold") await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
            },
          }),
      }),
    );
    const peers = new PeerDirectory();
    peers.set("socket", [socketUrl]);
    gatewayUrl = await listen(
      createRpcHandler({
        logger,
        fallback: notFound,
        interceptors: [createCorrelationInterceptor({ logger })],
        routes: (router) => router.service(RealtimeService, createForwarder(RealtimeService, "socket", peers)),
      }),
    );
  });

  afterAll(async () => {
    for (const s of sessions) s.destroy();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  const protocols: Record<string, () => Transport> = {
    gRPC: () => createGrpcTransport({ baseUrl: gatewayUrl }),
    "gRPC-web": () => createGrpcWebTransport({ baseUrl: gatewayUrl, httpVersion: "2" }),
    "Connect, protobuf": () => createConnectTransport({ baseUrl: gatewayUrl, httpVersion: "2", useBinaryFormat: true }),
    "Connect, JSON": () => createConnectTransport({ baseUrl: gatewayUrl, httpVersion: "2", useBinaryFormat: false }),
  };
  const headers = { authorization: "Bearer token-1", "x-correlation-id": "corr-relay-1" };

  for (const [label, transport] of Object.entries(protocols)) {
    it(`delivers exactly the owner's messages over ${label}, with the caller's credential and correlation id passed on`, async () => {
      const before = seen.length;
      const got: Uint8Array[] = [];
      for await (const res of createClient(RealtimeService, transport()).subscribe({ conversationIds: ["end"] }, { headers })) got.push(toBinary(ServerFrameSchema, res.frame!));
      expect(got).toEqual(FRAMES.map((f) => toBinary(ServerFrameSchema, f)));
      expect(seen[before]).toMatchObject({ authorization: "Bearer token-1", correlationId: "corr-relay-1" });
    });

    it(`passes the owner's error on over ${label} after its messages: code, message, details and metadata`, async () => {
      const got: ServerFrame[] = [];
      const err = await (async () => {
        try {
          for await (const res of createClient(RealtimeService, transport()).subscribe({ conversationIds: ["fail"] }, { headers })) got.push(res.frame!);
        } catch (e) {
          return ConnectError.from(e);
        }
      })();
      expect(got).toHaveLength(FRAMES.length);
      expect(err?.code).toBe(Code.ResourceExhausted);
      expect(err?.rawMessage).toBe("the stream fell behind");
      expect(err?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("SLOW_CONSUMER");
      expect(err?.metadata.get("x-owner-note")).toBe("kept");
    });
  }

  for (const [label, transport] of Object.entries(protocols)) {
    it(`relays an owner's raw stream over ${label} as separate messages in order, then its error`, async () => {
      const got: Uint8Array[] = [];
      const err = await (async () => {
        try {
          for await (const res of createClient(RealtimeService, transport()).subscribe({ conversationIds: ["raw-fail"] }, { headers })) got.push(toBinary(ServerFrameSchema, res.frame!));
        } catch (e) {
          return ConnectError.from(e);
        }
      })();
      expect(got).toEqual([...FRAMES, ...BURST].map((f) => toBinary(ServerFrameSchema, f)));
      expect(err?.code).toBe(Code.ResourceExhausted);
      expect(err?.rawMessage).toBe("the stream fell behind");
      expect(err?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("SLOW_CONSUMER");
      expect(err?.metadata.get("x-owner-note")).toBe("kept");
    });
  }

  it("hands grpc-js every message of chunks holding several (and split) messages separately, then the OK status", async () => {
    const client = new grpc.Client(gatewayUrl.replace(/^http:\/\//, ""), grpc.credentials.createInsecure());
    const md = new grpc.Metadata();
    md.set("authorization", "Bearer token-1");
    const call = client.makeServerStreamRequest(
      "/caas.realtime.v1.RealtimeService/Subscribe",
      (m: Uint8Array) => Buffer.from(m),
      (b: Buffer) => new Uint8Array(b),
      toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { conversationIds: ["raw-end"] })),
      md,
    );
    const got: Uint8Array[] = [];
    call.on("data", (b: Uint8Array) => got.push(b));
    const status = await new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
    client.close();
    expect(status.code).toBe(grpc.status.OK);
    expect(got).toEqual([...FRAMES, ...BURST].map((frame) => toBinary(SubscribeResponseSchema, create(SubscribeResponseSchema, { frame }))));
  });

  it("takes no more of the owner's stream than a caller that stops reading can hold, and flows again when it reads", async () => {
    const before = seen.length;
    const session = http2.connect(gatewayUrl);
    const stream = session.request({ ":method": "POST", ":path": "/caas.realtime.v1.RealtimeService/Subscribe", "content-type": "application/grpc", te: "trailers", authorization: "Bearer token-1" });
    stream.end(envelope(toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { conversationIds: ["raw-endless"] }))));
    let received = 0;
    stream.on("data", (c: Buffer) => (received += c.length));
    await vi.waitFor(() => expect(received).toBeGreaterThan(100_000), { timeout: 5_000 });
    stream.pause();
    // Once the windows and buffers on the way are full, the owner's body is no longer read.
    let last = -1;
    await vi.waitFor(
      async () => {
        const now = seen[before]!.pulled;
        const settled = now === last;
        last = now;
        await new Promise((r) => setTimeout(r, 300));
        expect(settled).toBe(true);
      },
      { timeout: 10_000, interval: 10 },
    );
    expect(seen[before]!.pulled - received).toBeLessThan(4 * 1024 * 1024);
    stream.resume();
    await vi.waitFor(() => expect(seen[before]!.pulled).toBeGreaterThan(last + 100_000), { timeout: 5_000 });
    stream.close(http2.constants.NGHTTP2_CANCEL);
    session.close();
    await vi.waitFor(() => expect(seen[before]?.aborted).toBe(true), { timeout: 3_000 });
  });

  /** Subscribes over gRPC, goes away after `after` messages, and expects the caller's Canceled and the owner's stream aborted. */
  async function goesAwayAfter(conversationId: string, after: number): Promise<void> {
    const before = seen.length;
    const abort = new AbortController();
    let n = 0;
    const err = await (async () => {
      try {
        for await (const _ of createClient(RealtimeService, protocols["gRPC"]!()).subscribe({ conversationIds: [conversationId] }, { headers, signal: abort.signal })) {
          if (++n === after) abort.abort();
        }
      } catch (e) {
        return ConnectError.from(e);
      }
    })();
    expect(err?.code).toBe(Code.Canceled);
    await vi.waitFor(() => expect(seen[before]?.aborted).toBe(true), { timeout: 3_000 });
  }

  it("cancels the owner's raw stream when the caller goes away while it is written", () => goesAwayAfter("raw-endless", 500));

  it("cancels the owner's stream when the caller goes away mid-stream", () => goesAwayAfter("hold", FRAMES.length));

  it("ends the caller's stream with the owner's deadline error when the caller's deadline passes", async () => {
    const before = seen.length;
    const err = await (async () => {
      try {
        for await (const _ of createClient(RealtimeService, protocols["gRPC"]!()).subscribe({ conversationIds: ["hold"] }, { headers, timeoutMs: 500 })) {
          // the frames before the deadline
        }
      } catch (e) {
        return ConnectError.from(e);
      }
    })();
    expect(err?.code).toBe(Code.DeadlineExceeded);
    await vi.waitFor(() => expect(seen[before]?.aborted).toBe(true), { timeout: 3_000 });
  });
});

describe("relayedResponse", () => {
  const frame = FRAMES[1]!;
  const encoded = toBinary(SubscribeResponseSchema, create(SubscribeResponseSchema, { frame }));

  it("serializes, for a binary caller, to the bytes decoding and re-encoding the owner's message gives", () => {
    const opaque = fromBinary(EmptySchema, encoded);
    const relayed = relayedResponse(SubscribeResponseSchema, opaque, true);
    expect(toBinary(SubscribeResponseSchema, relayed as never)).toEqual(toBinary(SubscribeResponseSchema, fromBinary(SubscribeResponseSchema, encoded)));
    expect(toBinary(SubscribeResponseSchema, relayed as never)).toEqual(encoded);
  });

  it("decodes the message for a JSON caller", () => {
    const relayed = relayedResponse(SubscribeResponseSchema, fromBinary(EmptySchema, encoded), false) as ReturnType<typeof fromBinary<typeof SubscribeResponseSchema>>;
    expect(relayed.frame?.frame.case).toBe("event");
    expect(relayed.frame?.frame.case === "event" && relayed.frame.frame.value.seq).toBe(7n);
  });

  it("passes on fields the gateway's schema does not know (an owner on a newer contract)", () => {
    const newer = new BinaryWriter().raw(encoded).tag(99, WireType.Varint).uint32(5).finish();
    const relayed = relayedResponse(SubscribeResponseSchema, fromBinary(EmptySchema, newer), true);
    expect(toBinary(SubscribeResponseSchema, relayed as never)).toEqual(newer);
  });
});
