import type { BusBatch } from "../../src/bus/event-bus.js";
import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { ChatEventEnvelopeSchema, type ChatEventEnvelope } from "@caas/gen/caas/events/v1/chat_events_pb.js";
import { EventSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import type { BusFixture } from "./event-bus.contract.js";

const envelope = (conversationId: string, seq: number): ChatEventEnvelope =>
  create(ChatEventEnvelopeSchema, {
    tenantId: "t1",
    conversationId,
    payload: { case: "event", value: create(EventSchema, { conversationId, seq: BigInt(seq), eventId: `${conversationId}-${seq}` }) },
  });

type Batch = BusBatch<typeof ChatEventEnvelopeSchema>;
const seqsOf = (b: Batch) => b.records.map((r) => (r.value.payload.case === "event" ? Number(r.value.payload.value.seq) : -1));

async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The batch side of the EventBus contract (subscribeBatches and lag): every adapter must pass it. */
export function eventBusBatchContract(name: string, make: () => Promise<BusFixture>, opts: { timeoutMs: number }) {
  describe(`EventBus batch contract: ${name}`, () => {
    let fx: BusFixture | undefined;
    afterEach(async (ctx) => {
      if (ctx.task.result?.state === "fail" && fx?.diagnostics) console.error(`${ctx.task.name}: the bus's recent history\n${fx.diagnostics()}`);
      await fx?.dispose();
      fx = undefined;
    });

    it("hands over batches of one partition in order per key, at most maxRecords, and reports the lag until they are applied", { timeout: opts.timeoutMs * 4 }, async () => {
      fx = await make();
      const topic = fx.topic();
      const records = [];
      for (let seq = 1; seq <= 20; seq++) for (const conv of ["a", "b", "c"]) records.push({ key: conv, value: envelope(conv, seq), headers: {} });
      await fx.bus.publish(topic, records);
      const batches: Batch[] = [];
      let open!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      const sub = await fx.bus.subscribeBatches(topic, { group: "g-batches", from: "earliest", maxRecords: 7 }, async (b) => {
        await gate;
        batches.push(b);
      });
      // Nothing applied yet: every record is lag, and the oldest has an age.
      await until(async () => (await sub.lag()).reduce((n, p) => n + p.lagEvents, 0) === 60, opts.timeoutMs, "a lag of 60 records");
      const before = await sub.lag();
      expect(before.every((p) => p.endOffset - p.committedOffset >= p.lagEvents)).toBe(true);
      open();
      await until(() => batches.reduce((n, b) => n + b.records.length, 0) >= 60, opts.timeoutMs, "60 records");
      expect(batches.every((b) => b.records.length >= 1 && b.records.length <= 7)).toBe(true);
      for (const conv of ["a", "b", "c"]) {
        const mine = batches.flatMap((b) => b.records.filter((r) => r.key === conv).map(() => b.partition));
        expect(new Set(mine).size).toBe(1);
        expect(batches.flatMap((b) => seqsOf({ ...b, records: b.records.filter((r) => r.key === conv) }))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      }
      await until(async () => (await sub.lag()).every((p) => p.lagEvents === 0 && p.lagMs === 0), opts.timeoutMs, "no lag");
      const after = await sub.lag();
      expect(after.every((p) => p.committedOffset === p.endOffset)).toBe(true);
      expect(after.map((p) => p.partition)).toEqual([...after.map((p) => p.partition)].sort((x, y) => x - y));
      await sub.close();
    });

    it(
      "gives a failed batch again and commits nothing of it until the handler resolves",
      async () => {
        fx = await make();
        const topic = fx.topic();
        await fx.bus.publish(
          topic,
          [1, 2, 3].map((s) => ({ key: "k", value: envelope("k", s), headers: {} })),
        );
        let calls = 0;
        const seen: number[][] = [];
        const sub = await fx.bus.subscribeBatches(topic, { group: "g-retry", from: "earliest" }, async (b) => {
          seen.push(seqsOf(b));
          if (++calls === 1) throw new Error("not durable yet");
        });
        await until(() => calls >= 2, opts.timeoutMs, "a second delivery");
        expect(seen[1]).toEqual(seen[0]);
        await until(async () => (await sub.lag()).every((p) => p.lagEvents === 0), opts.timeoutMs, "the batch committed");
        await sub.close();
        // A failing consumer that stops before succeeding leaves the records for the next one.
        await fx.bus.publish(topic, [{ key: "k", value: envelope("k", 4), headers: {} }]);
        const failing = await fx.bus.subscribeBatches(topic, { group: "g-retry", from: "earliest" }, async () => {
          throw new Error("down");
        });
        await new Promise((r) => setTimeout(r, 300));
        await failing.close();
        const bus = fx.reopen ? await fx.reopen() : fx.bus;
        const again: number[] = [];
        const last = await bus.subscribeBatches(topic, { group: "g-retry", from: "earliest" }, async (b) => void again.push(...seqsOf(b)));
        await until(() => again.includes(4), opts.timeoutMs, "record 4 redelivered");
        expect(again).toEqual([4]);
        await last.close();
        if (bus !== fx.bus) await bus.close();
      },
      opts.timeoutMs * 4,
    );
  });
}
