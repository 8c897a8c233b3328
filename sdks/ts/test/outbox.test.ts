import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { CaasError, Code, memoryOutboxStore, type QueuedSend } from "@caas/client";
import { Outbox } from "../src/realtime/outbox.js";
import { SendAckSchema, type SendAck } from "../src/gen/caas/realtime/v1/frame_pb.js";

const item = (n: number): QueuedSend => ({ clientMessageId: `c${n}`, conversationId: "conv", text: `m${n}`, queuedAt: 0 });
const ack = (seq: number): SendAck => create(SendAckSchema, { messageId: `id${seq}`, seq: BigInt(seq) });

/** An outbox over a scripted transmit: each call answers with the next scripted result. */
function harness(script: ((i: QueuedSend) => Promise<SendAck>)[], store = memoryOutboxStore()) {
  let connected = false;
  const sent: string[] = [];
  const previousAttempts: number[] = [];
  const events: string[] = [];
  const outbox = new Outbox(
    store,
    (i, previous) => {
      sent.push(i.clientMessageId);
      previousAttempts.push(previous);
      const next = script.shift();
      return next ? next(i) : Promise.resolve(ack(sent.length));
    },
    { sent: (i) => events.push(`sent ${i.clientMessageId}`), failed: (i, e) => events.push(`failed ${i.clientMessageId} ${e.codeName}`) },
    () => connected,
  );
  return { outbox, sent, previousAttempts, events, store, connect: () => ((connected = true), outbox.flush()), disconnect: () => (connected = false) };
}

describe("Outbox", () => {
  it("holds sends while offline and sends them, in order, on connect", async () => {
    const h = harness([]);
    const acks = [1, 2, 3].map((n) => h.outbox.enqueue(item(n)));
    expect(h.sent).toEqual([]);
    expect(h.store.load().map((i) => i.clientMessageId)).toEqual(["c1", "c2", "c3"]);
    h.connect();
    expect((await Promise.all(acks)).map((a) => a.seq)).toEqual([1n, 2n, 3n]);
    expect(h.sent).toEqual(["c1", "c2", "c3"]);
    expect(h.outbox.pending()).toEqual([]);
    expect(h.store.load()).toEqual([]);
  });

  it("resends a send whose connection dropped with the same client_message_id, once connected again", async () => {
    const h = harness([() => Promise.reject(new CaasError("connection closed", Code.Unavailable))]);
    h.connect();
    const done = h.outbox.enqueue(item(1));
    await new Promise((r) => setTimeout(r, 0));
    h.disconnect();
    expect(h.outbox.pending().map((i) => i.clientMessageId)).toEqual(["c1"]);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.sent).toEqual(["c1"]);
    h.connect();
    await done;
    expect(h.sent).toEqual(["c1", "c1"]);
    // The resend tells the server it is a retry (chat serves first attempts first when short of capacity).
    expect(h.previousAttempts).toEqual([0, 1]);
    expect(h.events).toEqual(["sent c1"]);
  });

  it("marks the first send of a queue loaded from its store as a retry: it may have been sent before the reload", async () => {
    const store = memoryOutboxStore();
    store.save([item(1)]);
    const h = harness([], store);
    h.connect();
    await new Promise((r) => setTimeout(r, 0));
    const fresh = h.outbox.enqueue(item(2));
    await fresh;
    expect(h.sent).toEqual(["c1", "c2"]);
    expect(h.previousAttempts).toEqual([1, 0]);
  });

  it("waits the server's retry delay, and drops a send refused for good", async () => {
    const h = harness([
      () => Promise.reject(new CaasError("slow down", Code.ResourceExhausted, { retryAfterMs: 120 })),
      () => Promise.reject(new CaasError("bad", Code.InvalidArgument, { fieldViolations: [{ field: "text", description: "too long" }] })),
    ]);
    h.connect();
    const started = Date.now();
    const first = h.outbox.enqueue(item(1));
    const second = h.outbox.enqueue(item(2)).catch((e: CaasError) => e);
    expect((await second) as CaasError).toMatchObject({ code: Code.InvalidArgument });
    await first;
    expect(Date.now() - started).toBeGreaterThanOrEqual(110);
    expect(h.events).toEqual(["failed c2 INVALID_ARGUMENT", "sent c1"]);
    expect(h.outbox.pending()).toEqual([]);
  });
});
