import { create, fromBinary, toBinary, toJson } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EventSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { ConnectResponseSchema, SubscribeResponseSchema } from "@caas/gen/caas/realtime/v1/realtime_service_pb.js";
import { serverFrame } from "../src/frames.js";
import { binaryCall, frameField, frameResponse } from "../src/transports/stream-frames.js";

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
});
