import type { BusRecord, EventBus, TopicSpec } from "../../src/bus/event-bus.js";
import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { ChatEventEnvelopeSchema, type ChatEventEnvelope } from "@caas/gen/caas/events/v1/chat_events_pb.js";
import { EventSchema } from "@caas/gen/caas/chat/v1/event_pb.js";

export interface BusFixture {
  bus: EventBus;
  /** A topic no other test uses. */
  topic(): TopicSpec<typeof ChatEventEnvelopeSchema>;
  /** A second bus on the same backing log (another process, for Kafka another client). */
  reopen?(): Promise<EventBus>;
  dispose(): Promise<void>;
  /** What the adapter did lately (protocol history), printed when a test fails. */
  diagnostics?(): string;
}

const envelope = (conversationId: string, seq: number): ChatEventEnvelope =>
  create(ChatEventEnvelopeSchema, {
    tenantId: "t1",
    conversationId,
    payload: { case: "event", value: create(EventSchema, { conversationId, seq: BigInt(seq), eventId: `${conversationId}-${seq}` }) },
  });

const seqOf = (r: BusRecord<typeof ChatEventEnvelopeSchema>) => (r.value.payload.case === "event" ? Number(r.value.payload.value.seq) : -1);

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The EventBus contract: every adapter must pass it. */
export function eventBusContract(name: string, make: () => Promise<BusFixture>, opts: { timeoutMs: number }) {
  describe(`EventBus contract: ${name}`, () => {
    let fx: BusFixture | undefined;
    afterEach(async (ctx) => {
      if (ctx.task.result?.state === "fail" && fx?.diagnostics) console.error(`${ctx.task.name}: the bus's recent history\n${fx.diagnostics()}`);
      await fx?.dispose();
      fx = undefined;
    });

    it(
      "delivers records with key, value and headers, in order per key",
      async () => {
        fx = await make();
        const topic = fx.topic();
        const got: BusRecord<typeof ChatEventEnvelopeSchema>[] = [];
        await fx.bus.subscribe(topic, { group: "g-order", from: "earliest" }, async (r) => {
          got.push(r);
        });
        const records = [];
        for (let seq = 1; seq <= 30; seq++) {
          for (const conv of ["a", "b", "c"]) records.push({ key: conv, value: envelope(conv, seq), headers: { "x-correlation-id": `corr-${conv}-${seq}` } });
        }
        await fx.bus.publish(topic, records.slice(0, 45));
        await fx.bus.publish(topic, records.slice(45));
        await until(() => got.length >= 90, opts.timeoutMs, "90 records");
        for (const conv of ["a", "b", "c"]) {
          const mine = got.filter((r) => r.key === conv);
          expect(mine.map(seqOf)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
          expect(mine[4]!.headers["x-correlation-id"]).toBe(`corr-${conv}-5`);
          expect(mine[4]!.value.tenantId).toBe("t1");
        }
      },
      opts.timeoutMs * 2,
    );

    it(
      "gives every consumer group every record",
      async () => {
        fx = await make();
        const topic = fx.topic();
        const g1: number[] = [];
        const g2: number[] = [];
        await fx.bus.subscribe(topic, { group: "g-one", from: "earliest" }, async (r) => void g1.push(seqOf(r)));
        await fx.bus.subscribe(topic, { group: "g-two", from: "earliest" }, async (r) => void g2.push(seqOf(r)));
        await fx.bus.publish(
          topic,
          [1, 2, 3].map((s) => ({ key: "k", value: envelope("k", s), headers: {} })),
        );
        await until(() => g1.length >= 3 && g2.length >= 3, opts.timeoutMs, "both groups");
        expect(g1).toEqual([1, 2, 3]);
        expect(g2).toEqual([1, 2, 3]);
      },
      opts.timeoutMs * 2,
    );

    it(
      "redelivers a record whose handler failed, without skipping or reordering it",
      async () => {
        fx = await make();
        const topic = fx.topic();
        const seen: number[] = [];
        let failures = 0;
        await fx.bus.subscribe(topic, { group: "g-retry", from: "earliest" }, async (r) => {
          const seq = seqOf(r);
          if (seq === 2 && failures < 2) {
            failures++;
            throw new Error("transient");
          }
          seen.push(seq);
        });
        await fx.bus.publish(
          topic,
          [1, 2, 3].map((s) => ({ key: "k", value: envelope("k", s), headers: {} })),
        );
        await until(() => seen.includes(3), opts.timeoutMs, "record 3");
        expect(failures).toBe(2);
        // At least once: 1 may come again after a consumer restart, but 2 precedes 3 and nothing is lost.
        expect(seen.indexOf(2)).toBeLessThan(seen.indexOf(3));
        expect(new Set(seen)).toEqual(new Set([1, 2, 3]));
      },
      opts.timeoutMs * 3,
    );

    it(
      "keeps what was published while a group was away and delivers it when the group returns",
      async () => {
        fx = await make();
        const topic = fx.topic();
        const first: number[] = [];
        const sub = await fx.bus.subscribe(topic, { group: "g-away", from: "earliest" }, async (r) => void first.push(seqOf(r)));
        await fx.bus.publish(
          topic,
          [1, 2].map((s) => ({ key: "k", value: envelope("k", s), headers: {} })),
        );
        await until(() => first.length >= 2, opts.timeoutMs, "first two");
        await sub.close();
        await fx.bus.publish(
          topic,
          [3, 4].map((s) => ({ key: "k", value: envelope("k", s), headers: {} })),
        );
        const again: number[] = [];
        const bus = fx.reopen ? await fx.reopen() : fx.bus;
        await bus.subscribe(topic, { group: "g-away", from: "earliest" }, async (r) => void again.push(seqOf(r)));
        await until(() => again.includes(4), opts.timeoutMs, "records 3 and 4");
        expect(again.filter((s) => s >= 3)).toEqual([3, 4]);
        if (bus !== fx.bus) await bus.close();
      },
      opts.timeoutMs * 3,
    );

    it(
      "starts a new group at the end when asked for latest: history is not replayed",
      async () => {
        fx = await make();
        const topic = fx.topic();
        await fx.bus.publish(topic, [{ key: "k", value: envelope("k", 1), headers: {} }]);
        const got: number[] = [];
        await fx.bus.subscribe(topic, { group: "g-latest", from: "latest" }, async (r) => void got.push(seqOf(r)));
        // Where "latest" lands is fixed when the group gets its partitions, which may be just
        // after subscribe returns: keep publishing until something arrives.
        for (let seq = 2; got.length === 0 && seq < 200; seq++) {
          await fx.bus.publish(topic, [{ key: "k", value: envelope("k", seq), headers: {} }]);
          await new Promise((r) => setTimeout(r, 100));
        }
        await until(() => got.length > 0, opts.timeoutMs, "a new record");
        expect(got).not.toContain(1);
      },
      opts.timeoutMs * 3,
    );
  });
}
