import { create, fromBinary, toBinary, toJson } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EventSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { ConnectResponseSchema, SubscribeResponseSchema } from "@caas/gen/caas/realtime/v1/realtime_service_pb.js";
import { serverFrame } from "../src/frames.js";
import { envelope } from "@caas/shared/server/raw-stream-body";
import { StreamSink } from "../src/transports/stream-sink.js";
import { batchChunk, binaryCall, frameChunks, frameEnvelope, frameField, frameResponse } from "../src/transports/stream-frames.js";

describe("stream responses of pushed frames (gRPC Subscribe and Connect streams)", () => {
  const event = create(EventSchema, { conversationId: "c1", seq: 7n, eventId: "e7", actorId: "ann", payload: { case: "messageCreated", value: { message: { text: "héllo" } } } });
  const pushed = serverFrame(0n, { case: "event", value: event });

  it("serializes, for a binary caller, to the bytes encoding `{ frame }` gives, for every frame kind", () => {
    const frames = [pushed, serverFrame(5n, { case: "event", value: event }), serverFrame(3n, { case: "pong", value: { nonce: 9n } }), serverFrame(0n, { case: "ack", value: {} })];
    for (const schema of [SubscribeResponseSchema, ConnectResponseSchema]) {
      for (const frame of frames) {
        const expected = toBinary(schema, create(schema, { frame }));
        const got = toBinary(schema, frameResponse(schema, frame, true));
        expect(got).toEqual(expected);
        expect(toBinary(schema, fromBinary(schema, got))).toEqual(expected);
      }
    }
  });

  it("encodes a pushed event once for every recipient, and never shares a reply's bytes", () => {
    const again = serverFrame(0n, { case: "event", value: event });
    expect(frameField(again)).toBe(frameField(pushed));
    const reply = serverFrame(5n, { case: "event", value: event });
    expect(frameField(reply)).not.toBe(frameField(serverFrame(5n, { case: "event", value: event })));
    expect(fromBinary(SubscribeResponseSchema, toBinary(SubscribeResponseSchema, frameResponse(SubscribeResponseSchema, reply, true))).frame?.replyTo).toBe(5n);
    const other = serverFrame(0n, { case: "event", value: create(EventSchema, { conversationId: "c1", seq: 8n, eventId: "e8" }) });
    expect(frameField(other)).not.toBe(frameField(pushed));
  });

  it("carries the frame itself for a JSON caller", () => {
    const res = frameResponse(SubscribeResponseSchema, pushed, false);
    expect(res.frame).toBe(pushed);
    expect(JSON.stringify(toJson(SubscribeResponseSchema, res))).toContain('"seq":"7"');
  });

  it("tells the JSON protocols from the binary ones by content type", () => {
    for (const ct of ["application/grpc", "application/grpc+proto", "application/grpc-web+proto", "application/grpc-web-text", "application/connect+proto", null]) expect(binaryCall(ct)).toBe(true);
    for (const ct of ["application/grpc+json", "application/grpc-web+json", "application/connect+json", "application/json"]) expect(binaryCall(ct)).toBe(false);
  });

  it("envelopes a frame's response as connect would frame it, a pushed event's once for every stream", () => {
    const frames = [pushed, serverFrame(5n, { case: "event", value: event }), serverFrame(3n, { case: "pong", value: { nonce: 9n } })];
    for (const frame of frames) {
      for (const schema of [SubscribeResponseSchema, ConnectResponseSchema])
        expect(new Uint8Array(frameEnvelope(frame))).toEqual(new Uint8Array(envelope(toBinary(schema, create(schema, { frame })))));
    }
    expect(frameEnvelope(serverFrame(0n, { case: "event", value: event }))).toBe(frameEnvelope(pushed));
    expect(frameEnvelope(serverFrame(3n, { case: "pong", value: { nonce: 9n } }))).not.toBe(frameEnvelope(frames[2]!));
  });

  it("writes each batch waiting as one chunk of its frames' envelopes, in order, until the sink ends", async () => {
    const sink = new StreamSink(100);
    const frames = Array.from({ length: 5 }, (_, i) => serverFrame(0n, { case: "event", value: create(EventSchema, { conversationId: "c1", seq: BigInt(i + 1), eventId: `e${i}` }) }));
    sink.write(frames.slice(0, 1));
    expect(await sink.first(new AbortController().signal)).toBe(frames[0]);
    sink.write(frames.slice(1, 3));
    sink.write(frames.slice(3));
    sink.end(0, "done");
    const chunks: Uint8Array[] = [];
    for await (const c of frameChunks(sink.batches(new AbortController().signal))) chunks.push(c);
    expect(chunks).toHaveLength(1);
    expect(new Uint8Array(chunks[0]!)).toEqual(new Uint8Array(Buffer.concat(frames.slice(1).map(frameEnvelope))));
  });

  it("leaves the frames after the first waiting, and ends a reader when the call's signal aborts", async () => {
    const sink = new StreamSink(100);
    const a = serverFrame(1n, { case: "ack", value: {} });
    const b = serverFrame(2n, { case: "ack", value: {} });
    sink.write([a, b]);
    const abort = new AbortController();
    expect(await sink.first(abort.signal)).toBe(a);
    const it = sink.batches(abort.signal);
    expect((await it.next()).value).toEqual([b]);
    const pending = it.next();
    abort.abort();
    expect((await pending).done).toBe(true);
    expect(await sink.first(abort.signal)).toBeUndefined();
  });

  it("joins a batch of the same pushed events once for every stream, never a batch holding a reply", () => {
    const events = [1n, 2n].map((seq) => create(EventSchema, { conversationId: "c9", seq, eventId: `e${seq}` }));
    const forStream = () => events.map((e) => serverFrame(0n, { case: "event", value: e }));
    const joined = batchChunk(forStream());
    expect(batchChunk(forStream())).toBe(joined);
    expect(new Uint8Array(joined)).toEqual(new Uint8Array(Buffer.concat(forStream().map(frameEnvelope))));
    const withReply = [...forStream(), serverFrame(4n, { case: "ack", value: {} })];
    expect(batchChunk(withReply)).not.toBe(batchChunk([...forStream(), serverFrame(4n, { case: "ack", value: {} })]));
  });
});
