import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { NotFoundError } from "../../src/errors.js";
import type { AppendInput, EventLogStore } from "../../src/eventlog/event-log-store.js";
import { newId } from "../../src/ids.js";
import type { TenantScope } from "../../src/tenant-scope.js";
import { freshTenantScope } from "../../src/testing/index.js";
import { bodyOf, input, type OpenEventLogStore } from "./event-log-store.contract.js";

const text = new TextEncoder();
const untext = new TextDecoder();

/** Inputs with idempotency keys `<prefix>0..n-1` (fresh event ids on every call, as a retry has). */
function keyed(conversationId: string, prefix: string, n: number, countable = (_i: number) => true): AppendInput[] {
  return Array.from({ length: n }, (_, i) => input(conversationId, { clientMessageId: `${prefix}${i}`, countable: countable(i), tag: `${prefix}${i}` }));
}

/** The `EventLogStore` batch operations (appendBatch, redactBatch), run against every adapter. */
export function eventLogBatchContract(name: string, open: OpenEventLogStore): void {
  describe(`EventLogStore batch contract: ${name}`, () => {
    let store: EventLogStore;
    const extra: EventLogStore[] = [];
    let scope: TenantScope;
    let conv: string;
    const clock = new FakeClock();

    beforeEach(async () => {
      store = await open({ clock });
      scope = freshTenantScope();
      conv = newId();
    });

    afterEach(async () => {
      await Promise.all([store, ...extra.splice(0)].map((s) => s.close()));
    });

    it("appends a batch in order at the next seqs, as appends one after another would", async () => {
      await store.append(scope, input(conv, { countable: true }));
      await store.append(scope, input(conv, { countable: false }));
      const results = await store.appendBatch(
        scope,
        keyed(conv, "k", 5, (i) => i % 2 === 0),
      );
      expect(results.map((r) => r.kind)).toEqual(Array(5).fill("appended"));
      expect(results.map((r) => [r.event.seq, r.event.countableSeq, r.event.clientMessageId])).toEqual([
        [3, 2, "k0"],
        [4, 2, "k1"],
        [5, 3, "k2"],
        [6, 3, "k3"],
        [7, 4, "k4"],
      ]);
      // Each body was built from the seq it was committed at, and what was returned is what is stored.
      for (const r of results) expect(bodyOf(r.event)).toMatchObject({ seq: r.event.seq, countableSeq: r.event.countableSeq, tag: r.event.clientMessageId });
      expect(await store.read(scope, conv, 2, 100)).toEqual(results.map((r) => r.event));
      expect(await store.head(scope, conv)).toEqual({ seq: 7, countableSeq: 4 });
      // Appends after a batch continue from it.
      expect((await store.append(scope, input(conv))).event.seq).toBe(8);
      expect(await store.appendBatch(scope, [])).toEqual([]);
      await expect(store.appendBatch(scope, [input(conv), input(newId())])).rejects.toThrow(RangeError);
      await expect(
        store.appendBatch(
          scope,
          Array.from({ length: 1001 }, () => input(conv)),
        ),
      ).rejects.toThrow(RangeError);
    });

    it("a retried batch commits only what is missing: what was committed comes back as duplicate, never twice", async () => {
      // A crash after part of a batch: k0..k2 committed (a batch), k4 by a lone append, other events since.
      const first = await store.appendBatch(scope, keyed(conv, "k", 3));
      const lone = await store.append(scope, keyed(conv, "k", 5)[4]!);
      await store.append(scope, input(conv, { actorId: "someone-else" }));
      // The retry (another instance, as after a restart) brings all six again, with new event ids.
      const retry = await (await another()).appendBatch(scope, keyed(conv, "k", 6));
      expect(retry.map((r) => r.kind)).toEqual(["duplicate", "duplicate", "duplicate", "appended", "duplicate", "appended"]);
      expect(retry.slice(0, 3).map((r) => r.event)).toEqual(first.map((r) => r.event));
      expect(retry[4]!.event).toEqual(lone.event);
      expect([retry[3]!.event.seq, retry[5]!.event.seq]).toEqual([6, 7]);
      const all = await store.read(scope, conv, 0, 100);
      expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      const keys = all.map((e) => e.clientMessageId).filter((k) => k.startsWith("k"));
      expect(keys.sort()).toEqual(["k0", "k1", "k2", "k3", "k4", "k5"]);
      // The same keys in another tenant are other events.
      const other = freshTenantScope();
      expect((await store.appendBatch(other, keyed(conv, "k", 2))).map((r) => [r.kind, r.event.seq, r.event.tenantId])).toEqual([
        ["appended", 1, other.tenantId],
        ["appended", 2, other.tenantId],
      ]);
      expect(await store.head(scope, conv)).toEqual({ seq: 7, countableSeq: 7 });
    });

    it("keeps seqs dense when batches on two instances race each other and single appends", async () => {
      const [a, b] = [store, await another()];
      const results = await Promise.all([
        a.appendBatch(scope, keyed(conv, "a", 40)),
        b.appendBatch(scope, keyed(conv, "b", 40)),
        ...Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).append(scope, input(conv, { actorId: "single", clientMessageId: `s${i}` }))),
        // A batch retried at once on the other instance: each of its events is committed once.
        a.appendBatch(scope, keyed(conv, "r", 10)),
        b.appendBatch(scope, keyed(conv, "r", 10)),
      ]);
      const all = await store.read(scope, conv, 0, 1000);
      expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(new Set(all.map((e) => `${e.actorId}|${e.clientMessageId}`)).size).toBe(100);
      all.forEach((e, i) => expect(e.countableSeq).toBe(i + 1));
      for (const e of all) expect(bodyOf(e).seq).toBe(e.seq);
      // Within a batch, the events keep the batch's order.
      for (const batch of [results[0], results[1]] as { event: { seq: number } }[][]) {
        const seqs = batch.map((r) => r.event.seq);
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      }
      const retried = [results[12], results[13]] as { kind: string; event: unknown }[][];
      for (let i = 0; i < 10; i++) {
        expect(retried.map((r) => r[i]!.kind).sort()).toEqual(["appended", "duplicate"]);
        expect(retried[0]![i]!.event).toEqual(retried[1]![i]!.event);
      }
    });

    it("redacts several events in one call; NOT_FOUND names none of another tenant's", async () => {
      const events = (await store.appendBatch(scope, keyed(conv, "k", 4))).map((r) => r.event);
      await store.redactBatch(scope, conv, [
        { seq: 2, body: text.encode("[two]") },
        { seq: 4, body: text.encode("[four]") },
      ]);
      const after = await store.read(scope, conv, 0, 10);
      expect(after[0]).toEqual(events[0]);
      expect(after[2]).toEqual(events[2]);
      expect(after[1]).toEqual({ ...events[1], body: text.encode("[two]"), redacted: true });
      expect(after[3]).toEqual({ ...events[3], body: text.encode("[four]"), redacted: true });
      await store.redactBatch(scope, conv, []);
      // A missing seq: NOT_FOUND, the others are redacted.
      await expect(
        store.redactBatch(scope, conv, [
          { seq: 1, body: text.encode("[one]") },
          { seq: 9, body: text.encode("x") },
        ]),
      ).rejects.toBeInstanceOf(NotFoundError);
      expect(untext.decode((await store.read(scope, conv, 0, 1))[0]!.body)).toBe("[one]");
      // Another tenant's events are not found and stay as they are.
      await expect(store.redactBatch(freshTenantScope(), conv, [{ seq: 3, body: text.encode("x") }])).rejects.toBeInstanceOf(NotFoundError);
      expect((await store.read(scope, conv, 2, 1))[0]).toEqual(events[2]);
      await expect(store.redactBatch(scope, conv, [{ seq: -1, body: text.encode("x") }])).rejects.toThrow(RangeError);
    });

    async function another(): Promise<EventLogStore> {
      const s = await open({ clock });
      extra.push(s);
      return s;
    }
  });
}
