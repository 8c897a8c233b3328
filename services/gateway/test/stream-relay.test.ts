import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type HandlerContext, type Transport } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { EventSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { ServerFrameSchema, type ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { RealtimeService, SubscribeResponseSchema } from "@caas/gen/caas/realtime/v1/realtime_service_pb.js";
import { ErrorInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { createCorrelationInterceptor } from "@caas/shared/interceptors/correlation";
import { createLogger } from "@caas/shared/logger";
import { PeerDirectory } from "@caas/shared/clients";
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

/** What the owner saw of one Subscribe stream. */
interface Seen {
  authorization: string | null;
  correlationId: string | null;
  aborted: boolean;
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

  const listen = async (handler: ReturnType<typeof connectNodeAdapter>) => {
    const srv = http2.createServer(handler);
    srv.on("session", (s) => sessions.add(s));
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  };

  beforeAll(async () => {
    const socketUrl = await listen(
      connectNodeAdapter({
        routes: (router) =>
          router.service(RealtimeService, {
            subscribe: async function* (req, ctx: HandlerContext) {
              const call: Seen = { authorization: ctx.requestHeader.get("authorization"), correlationId: ctx.requestHeader.get("x-correlation-id"), aborted: false };
              seen.push(call);
              ctx.signal.addEventListener("abort", () => (call.aborted = true), { once: true });
              for (const frame of FRAMES) yield create(SubscribeResponseSchema, { frame });
              const how = req.conversationIds[0];
              if (how === "fail") {
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
    const logger = createLogger({ service: "gateway-test", instance: "t", level: "silent" });
    gatewayUrl = await listen(
      connectNodeAdapter({
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

  it("cancels the owner's stream when the caller goes away mid-stream", async () => {
    const before = seen.length;
    const abort = new AbortController();
    let n = 0;
    const err = await (async () => {
      try {
        for await (const _ of createClient(RealtimeService, protocols["gRPC"]!()).subscribe({ conversationIds: ["hold"] }, { headers, signal: abort.signal })) {
          if (++n === FRAMES.length) abort.abort();
        }
      } catch (e) {
        return ConnectError.from(e);
      }
    })();
    expect(err?.code).toBe(Code.Canceled);
    await vi.waitFor(() => expect(seen[before]?.aborted).toBe(true), { timeout: 3_000 });
  });

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
