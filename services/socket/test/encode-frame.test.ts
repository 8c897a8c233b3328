import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EventSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { ServerFrameSchema } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { serverFrame } from "../src/frames.js";
import { encodeFrame } from "../src/transports/websocket.js";

describe("encodeFrame (WebSocket fan-out)", () => {
  const event = create(EventSchema, { conversationId: "c1", seq: 7n, eventId: "e7" });

  it("encodes a pushed event once for every recipient, with the same bytes a fresh encoding gives", () => {
    const a = encodeFrame(serverFrame(0n, { case: "event", value: event }));
    const b = encodeFrame(serverFrame(0n, { case: "event", value: event }));
    expect(b).toBe(a);
    expect(Buffer.from(a)).toEqual(Buffer.from(toBinary(ServerFrameSchema, serverFrame(0n, { case: "event", value: event }))));
    const decoded = fromBinary(ServerFrameSchema, a);
    expect(decoded.frame.case).toBe("event");
    expect(decoded.frame.case === "event" && decoded.frame.value.seq).toBe(7n);
  });

  it("never reuses bytes across events or for replies (reply_to differs per connection)", () => {
    const other = create(EventSchema, { conversationId: "c1", seq: 8n, eventId: "e8" });
    expect(encodeFrame(serverFrame(0n, { case: "event", value: other }))).not.toBe(encodeFrame(serverFrame(0n, { case: "event", value: event })));
    const reply = fromBinary(ServerFrameSchema, encodeFrame(serverFrame(5n, { case: "event", value: event })));
    expect(reply.replyTo).toBe(5n);
  });
});
