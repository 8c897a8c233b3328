import { createRequire } from "node:module";
import type { Writable } from "node:stream";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EventSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { ServerFrameSchema } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { serverFrame } from "../src/frames.js";
import { wsBinaryMessage, wsFrameMessage } from "../src/transports/websocket.js";

/** ws's own frame parser, as a client reads server frames (unmasked). */
const Receiver = (createRequire(import.meta.url)("ws") as { Receiver: new (opts: { isServer: boolean; maxPayload: number }) => Writable }).Receiver;

/** The messages ws's parser reads from `bytes`, written in chunks of `chunk` bytes. */
async function parse(bytes: Buffer, chunk = bytes.length): Promise<Array<{ data: Buffer; binary: boolean }>> {
  const receiver = new Receiver({ isServer: false, maxPayload: 0 });
  const out: Array<{ data: Buffer; binary: boolean }> = [];
  receiver.on("message", (data: Buffer, binary: boolean) => out.push({ data: Buffer.from(data), binary }));
  for (let i = 0; i < bytes.length; i += chunk) {
    await new Promise<void>((resolve, reject) => receiver.write(bytes.subarray(i, i + chunk), (err) => (err ? reject(err) : resolve())));
  }
  return out;
}

describe("pushed event messages (WebSocket fan-out)", () => {
  const event = create(EventSchema, { conversationId: "c1", seq: 7n, eventId: "e7" });

  it("builds a pushed event's message once for every recipient, with the bytes a fresh encoding gives", async () => {
    const a = wsFrameMessage(serverFrame(0n, { case: "event", value: event }));
    const b = wsFrameMessage(serverFrame(0n, { case: "event", value: event }));
    expect(b).toBe(a);
    const [read] = await parse(a);
    expect(read?.data.equals(Buffer.from(toBinary(ServerFrameSchema, serverFrame(0n, { case: "event", value: event }))))).toBe(true);
    const decoded = fromBinary(ServerFrameSchema, read!.data);
    expect(decoded.frame.case === "event" && decoded.frame.value.seq).toBe(7n);
  });

  it("never reuses bytes across events or for replies (reply_to differs per connection)", async () => {
    const other = create(EventSchema, { conversationId: "c1", seq: 8n, eventId: "e8" });
    expect(wsFrameMessage(serverFrame(0n, { case: "event", value: other }))).not.toBe(wsFrameMessage(serverFrame(0n, { case: "event", value: event })));
    const [read] = await parse(wsFrameMessage(serverFrame(5n, { case: "event", value: event })));
    expect(fromBinary(ServerFrameSchema, read!.data).replyTo).toBe(5n);
  });
});

describe("wsBinaryMessage / wsFrameMessage (one socket write per tick)", () => {
  it("frames payloads of every length class as ws reads them: 7-bit, 16-bit and 64-bit lengths", async () => {
    for (const n of [0, 1, 125, 126, 127, 65_535, 65_536, 70_000]) {
      const payload = Buffer.alloc(n, n % 251);
      const msg = wsBinaryMessage(payload);
      expect(msg[0]).toBe(0x82);
      expect(msg.length).toBe(n + (n < 126 ? 2 : n < 65_536 ? 4 : 10));
      const [read, ...rest] = await parse(msg, 7_000);
      expect(rest).toEqual([]);
      expect(read?.binary).toBe(true);
      expect(read?.data.equals(payload)).toBe(true);
    }
  });

  it("concatenated messages read back as separate frames, in order", async () => {
    const event = create(EventSchema, { conversationId: "c1", seq: 9n, eventId: "e9" });
    const frames = [serverFrame(0n, { case: "event", value: event }), serverFrame(3n, { case: "pong", value: { nonce: 4n } }), serverFrame(0n, { case: "event", value: event })];
    const read = await parse(Buffer.concat(frames.map(wsFrameMessage)), 5);
    expect(read.map((m) => fromBinary(ServerFrameSchema, m.data).frame.case)).toEqual(["event", "pong", "event"]);
    expect(read.map((m) => fromBinary(ServerFrameSchema, m.data).replyTo)).toEqual([0n, 3n, 0n]);
  });

  it("builds a pushed event's message once for every recipient; replies are built per frame", () => {
    const event = create(EventSchema, { conversationId: "c1", seq: 10n, eventId: "e10" });
    expect(wsFrameMessage(serverFrame(0n, { case: "event", value: event }))).toBe(wsFrameMessage(serverFrame(0n, { case: "event", value: event })));
    const reply = serverFrame(2n, { case: "pong", value: { nonce: 1n } });
    expect(wsFrameMessage(reply)).not.toBe(wsFrameMessage(reply));
    expect(wsFrameMessage(reply).equals(wsBinaryMessage(toBinary(ServerFrameSchema, reply)))).toBe(true);
  });
});
