import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeClock, type Clock } from "../../src/clock.js";
import { NotFoundError, UnavailableError } from "../../src/errors.js";
import type { AppendInput, EventLogStore, LogEvent } from "../../src/eventlog/event-log-store.js";
import { newId } from "../../src/ids.js";
import type { MigrationResult } from "../../src/migrations.js";
import type { TenantScope } from "../../src/tenant-scope.js";
import { freshTenantScope } from "../../src/testing/index.js";

export interface OpenStoreOptions {
  clock: Clock;
  onMigrated?: (result: MigrationResult) => void;
}

/**
 * Opens a new store instance on the adapter's storage for this test file. Every call is an
 * independent instance with its own connection (SQLite: another connection to the same file;
 * MongoDB: another MongoClient), like two chat processes sharing one database; instances opened
 * by the same factory see the same data. `close()` releases what the call opened.
 */
export type OpenEventLogStore = (opts: OpenStoreOptions) => Promise<EventLogStore>;

const text = new TextEncoder();
const untext = new TextDecoder();

/** An append whose body records the seq and counters it was given, so tests can check them. */
export function input(conversationId: string, o: Partial<Omit<AppendInput, "encode">> & { tag?: string } = {}): AppendInput {
  const eventId = o.eventId ?? newId();
  return {
    conversationId,
    eventId,
    actorId: o.actorId ?? "u1",
    ...(o.clientMessageId === undefined ? {} : { clientMessageId: o.clientMessageId }),
    payloadHash: o.payloadHash ?? "h1",
    countable: o.countable ?? true,
    ...(o.signal ? { signal: o.signal } : {}),
    encode: ({ seq, countableSeq, createTimeMs }) => text.encode(JSON.stringify({ eventId, seq, countableSeq, createTimeMs, tag: o.tag ?? "" })),
  };
}

export function bodyOf(e: LogEvent): { eventId: string; seq: number; countableSeq: number; createTimeMs: number; tag: string } {
  return JSON.parse(untext.decode(e.body)) as ReturnType<typeof bodyOf>;
}

async function appendN(store: EventLogStore, scope: TenantScope, conversationId: string, n: number, countable = (_i: number) => true) {
  const out: LogEvent[] = [];
  for (let i = 0; i < n; i++) {
    const r = await store.append(scope, input(conversationId, { countable: countable(i), tag: `m${i}` }));
    expect(r.kind).toBe("appended");
    out.push(r.event);
  }
  return out;
}

/** Marks everything other tests left unpublished, so the outbox holds only this test's events. */
async function drainOutbox(store: EventLogStore) {
  for (;;) {
    const batch = await store.unpublished(1000, Number.MAX_SAFE_INTEGER);
    if (batch.length === 0) return;
    await store.markPublished(batch.map(({ tenantId, conversationId, seq }) => ({ tenantId, conversationId, seq })));
  }
}

/** The `EventLogStore` contract, run against every adapter (DESIGN "The conversation event log"). */
export function eventLogStoreContract(name: string, open: OpenEventLogStore): void {
  describe(`EventLogStore contract: ${name}`, () => {
    let clock: FakeClock;
    let store: EventLogStore;
    const extra: EventLogStore[] = [];
    let scope: TenantScope;
    let conv: string;

    beforeEach(async () => {
      clock = new FakeClock();
      store = await open({ clock });
      scope = freshTenantScope();
      conv = newId();
    });

    afterEach(async () => {
      await Promise.all([store, ...extra.splice(0)].map((s) => s.close()));
    });

    async function another(): Promise<EventLogStore> {
      const s = await open({ clock });
      extra.push(s);
      return s;
    }

    it("assigns dense seqs from 1, counts countable events and stamps the injected clock", async () => {
      expect(await store.head(scope, conv)).toEqual({ seq: 0, countableSeq: 0 });
      const t0 = clock.nowMs();
      const events = await appendN(store, scope, conv, 5, (i) => i !== 1 && i !== 3);
      clock.advance(1234);
      const last = await store.append(scope, input(conv, { countable: false }));
      expect(last.kind).toBe("appended");
      expect([...events, last.event].map((e) => [e.seq, e.countableSeq])).toEqual([
        [1, 1],
        [2, 1],
        [3, 2],
        [4, 2],
        [5, 3],
        [6, 3],
      ]);
      expect(events.map((e) => e.createTimeMs)).toEqual(Array(5).fill(t0));
      expect(last.event.createTimeMs).toBe(t0 + 1234);
      expect(await store.head(scope, conv)).toEqual({ seq: 6, countableSeq: 3 });
      // What append returned is what was committed, body built from the assigned values.
      const stored = await store.read(scope, conv, 0, 100);
      expect(stored).toEqual([...events, last.event]);
      expect(stored.map((e) => e.redacted)).toEqual(Array(6).fill(false));
      expect(bodyOf(stored[4]!)).toMatchObject({ seq: 5, countableSeq: 3, createTimeMs: t0 });
      // Conversations are independent logs.
      const other = newId();
      expect((await appendN(store, scope, other, 1))[0]!.seq).toBe(1);
      expect(await store.head(scope, conv)).toEqual({ seq: 6, countableSeq: 3 });
    });

    it("reads pages in seq order after a seq, up to a limit", async () => {
      await appendN(store, scope, conv, 25);
      const seqs = async (after: number, limit: number) => (await store.read(scope, conv, after, limit)).map((e) => e.seq);
      expect(await seqs(0, 10)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(await seqs(10, 10)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
      expect(await seqs(20, 10)).toEqual([21, 22, 23, 24, 25]);
      expect(await seqs(25, 10)).toEqual([]);
      expect(await seqs(3, 1)).toEqual([4]);
      expect(await store.read(scope, newId(), 0, 10)).toEqual([]);
      await expect(store.read(scope, conv, 0, 0)).rejects.toThrow(RangeError);
      await expect(store.read(scope, conv, 0, 1001)).rejects.toThrow(RangeError);
      await expect(store.read(scope, conv, -1, 10)).rejects.toThrow(RangeError);
    });

    it("is idempotent per (actor, clientMessageId): a retry returns the original event as duplicate", async () => {
      const first = await store.append(scope, input(conv, { clientMessageId: "c-1", payloadHash: "hash-A", tag: "original" }));
      expect(first.kind).toBe("appended");
      await appendN(store, scope, conv, 2);
      clock.advance(5000);
      const retry = await store.append(scope, input(conv, { clientMessageId: "c-1", payloadHash: "hash-B", tag: "retry" }));
      expect(retry).toEqual({ kind: "duplicate", event: first.event });
      expect(retry.event.payloadHash).toBe("hash-A");
      expect(bodyOf(retry.event).tag).toBe("original");
      expect(await store.head(scope, conv)).toEqual({ seq: 3, countableSeq: 3 });
      expect(await store.findByClientMessageId(scope, conv, "u1", "c-1")).toEqual(first.event);
      // The key is per actor and per conversation.
      const otherActor = await store.append(scope, input(conv, { actorId: "u2", clientMessageId: "c-1" }));
      expect(otherActor.kind).toBe("appended");
      expect(otherActor.event.seq).toBe(4);
      expect((await store.append(scope, input(newId(), { clientMessageId: "c-1" }))).kind).toBe("appended");
      expect(await store.findByClientMessageId(scope, conv, "u1", "c-404")).toBeUndefined();
      // Without a clientMessageId every event is its own; the same eventId again is the same event.
      const plain = input(conv, { actorId: "" });
      const a = await store.append(scope, plain);
      const b = await store.append(scope, input(conv, { actorId: "" }));
      expect([a.kind, b.kind]).toEqual(["appended", "appended"]);
      expect(a.event.clientMessageId).toBe(`~${a.event.eventId}`);
      expect(await store.append(scope, plain)).toEqual({ kind: "duplicate", event: a.event });
      await expect(store.append(scope, input(conv, { clientMessageId: "~sneaky" }))).rejects.toThrow(RangeError);
    });

    it("does not commit an append whose caller left while it waited its turn; a retry commits it once", async () => {
      const gone = new AbortController();
      const first = store.append(scope, input(conv, { clientMessageId: "c-1" }));
      const abandoned = store.append(scope, input(conv, { clientMessageId: "c-2", signal: gone.signal }));
      gone.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
      expect((await first).kind).toBe("appended");
      await expect(abandoned).rejects.toMatchObject({ code: Code.DeadlineExceeded });
      // Already gone before it was queued: refused the same way (CANCELED for a plain abort).
      const left = new AbortController();
      left.abort();
      await expect(store.append(scope, input(conv, { clientMessageId: "c-3", signal: left.signal }))).rejects.toMatchObject({ code: Code.Canceled });
      expect((await store.read(scope, conv, 0, 10)).map((e) => e.clientMessageId)).toEqual(["c-1"]);
      const retry = await store.append(scope, input(conv, { clientMessageId: "c-2" }));
      expect(retry.kind).toBe("appended");
      expect(retry.event.seq).toBe(2);
    });

    it("gives 200 appends from 8 concurrent writers on two instances exactly seqs 1..200", async () => {
      const instances = [store, await another()];
      const writers = 8;
      const perWriter = 25;
      const started = performance.now();
      const results = await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          const s = instances[w % instances.length]!;
          const mine: LogEvent[] = [];
          for (let i = 0; i < perWriter; i++) {
            const r = await s.append(scope, input(conv, { actorId: `w${w}`, clientMessageId: `w${w}-${i}`, countable: i % 2 === 0 }));
            expect(r.kind).toBe("appended");
            mine.push(r.event);
          }
          return mine;
        }),
      );
      const elapsedMs = performance.now() - started;
      if (process.env.CAAS_LOG_THROUGHPUT === "1") {
        console.info(`${name}: ${writers * perWriter} concurrent appends in ${elapsedMs.toFixed(0)} ms (${((writers * perWriter * 1000) / elapsedMs).toFixed(0)}/s)`);
      }
      const all = await store.read(scope, conv, 0, 1000);
      expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      expect(new Set(all.map((e) => e.eventId)).size).toBe(200);
      // Every writer's acks are in the log as acknowledged, in the writer's own order.
      const acked = results.flat().sort((x, y) => x.seq - y.seq);
      expect(acked).toEqual(all);
      for (const mine of results) expect(mine.map((e) => e.seq)).toEqual([...mine.map((e) => e.seq)].sort((x, y) => x - y));
      // Bodies were encoded with the seq that was finally committed, and countableSeq is a running count.
      let countable = 0;
      for (const e of all) {
        if (e.countable) countable++;
        expect(e.countableSeq).toBe(countable);
        expect(bodyOf(e)).toMatchObject({ eventId: e.eventId, seq: e.seq, countableSeq: e.countableSeq });
      }
      expect(await instances[1]!.head(scope, conv)).toEqual({ seq: 200, countableSeq: 104 });
    });

    it("commits concurrent retries of one clientMessageId once", async () => {
      const instances = [store, await another()];
      await appendN(store, scope, conv, 1);
      const results = await Promise.all([
        ...Array.from({ length: 8 }, (_, i) => instances[i % 2]!.append(scope, input(conv, { clientMessageId: "same", payloadHash: `h${i}`, tag: `try${i}` }))),
        // Unrelated writers racing for the same seqs.
        ...Array.from({ length: 4 }, (_, i) => instances[i % 2]!.append(scope, input(conv, { actorId: "u9", clientMessageId: `other-${i}` }))),
      ]);
      const same = results.slice(0, 8);
      expect(same.filter((r) => r.kind === "appended")).toHaveLength(1);
      const winner = same.find((r) => r.kind === "appended")!.event;
      for (const r of same) expect(r.event).toEqual(winner);
      expect(results.slice(8).map((r) => r.kind)).toEqual(Array(4).fill("appended"));
      const all = await store.read(scope, conv, 0, 100);
      expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(all.filter((e) => e.clientMessageId === "same")).toEqual([winner]);
    });

    it("keeps tenants apart: one conversation id, two independent logs", async () => {
      const tenantB = freshTenantScope();
      const a = await appendN(store, scope, conv, 3);
      await store.append(tenantB, input(conv, { clientMessageId: "c-1", tag: "b1" }));
      expect(await store.head(scope, conv)).toEqual({ seq: 3, countableSeq: 3 });
      expect(await store.head(tenantB, conv)).toEqual({ seq: 1, countableSeq: 1 });
      const readB = await store.read(tenantB, conv, 0, 100);
      expect(readB.map((e) => [e.tenantId, e.seq, bodyOf(e).tag])).toEqual([[tenantB.tenantId, 1, "b1"]]);
      expect((await store.read(scope, conv, 0, 100)).every((e) => e.tenantId === scope.tenantId)).toBe(true);
      // The same clientMessageId in another tenant is another event, and lookups do not cross.
      expect((await store.append(scope, input(conv, { clientMessageId: "c-1" }))).kind).toBe("appended");
      expect((await store.findByClientMessageId(tenantB, conv, "u1", "c-1"))?.tenantId).toBe(tenantB.tenantId);
      expect(await store.findByClientMessageId(freshTenantScope(), conv, "u1", "c-1")).toBeUndefined();
      // Redacting another tenant's seq is NOT_FOUND and leaves it untouched.
      await expect(store.redact(tenantB, conv, 3, text.encode("gone"))).rejects.toBeInstanceOf(NotFoundError);
      expect((await store.read(scope, conv, 2, 1))[0]).toEqual(a[2]);
      await store.redact(tenantB, conv, 1, text.encode("gone"));
      expect((await store.read(scope, conv, 0, 1))[0]).toEqual(a[0]);
    });

    it("redacts in place: seq, ids and counters kept, body replaced, flagged", async () => {
      const events = await appendN(store, scope, conv, 3, (i) => i !== 2);
      await store.redact(scope, conv, 2, text.encode("[redacted]"));
      const [one, two, three] = await store.read(scope, conv, 0, 10);
      expect(one).toEqual(events[0]);
      expect(three).toEqual(events[2]);
      expect(two).toEqual({ ...events[1], body: text.encode("[redacted]"), redacted: true });
      expect(await store.head(scope, conv)).toEqual({ seq: 3, countableSeq: 2 });
      await store.redact(scope, conv, 2, text.encode("[erased]"));
      expect(untext.decode((await store.read(scope, conv, 1, 1))[0]!.body)).toBe("[erased]");
      await expect(store.redact(scope, conv, 4, text.encode("x"))).rejects.toBeInstanceOf(NotFoundError);
      await expect(store.redact(scope, newId(), 1, text.encode("x"))).rejects.toBeInstanceOf(NotFoundError);
    });

    it("scans a tenant's whole log in (conversation, seq) order by pages, never another tenant's", async () => {
      const [c1, c2] = [newId(), newId()].sort() as [string, string];
      const other = freshTenantScope();
      await appendN(store, scope, c2, 2);
      await appendN(store, other, c1, 2);
      await appendN(store, scope, c1, 3);
      const key = (e: LogEvent) => `${e.conversationId === c1 ? "c1" : "c2"}/${e.seq}`;
      const first = await store.scanTenant(scope, undefined, 4);
      expect(first.map(key)).toEqual(["c1/1", "c1/2", "c1/3", "c2/1"]);
      const last = first[3]!;
      expect((await store.scanTenant(scope, { conversationId: last.conversationId, seq: last.seq }, 4)).map(key)).toEqual(["c2/2"]);
      expect((await store.scanTenant(scope, { conversationId: c1, seq: 1 }, 2)).map(key)).toEqual(["c1/2", "c1/3"]);
      expect((await store.scanTenant(other, undefined, 10)).every((e) => e.tenantId === other.tenantId)).toBe(true);
      expect(await store.scanTenant(freshTenantScope(), undefined, 10)).toEqual([]);
    });

    it("rewrites a body in place unless a redaction came first; nothing else changes", async () => {
      const events = await appendN(store, scope, conv, 2);
      expect(await store.rewriteBody(scope, conv, 1, text.encode("resealed"), false)).toBe(true);
      const [one, two] = await store.read(scope, conv, 0, 10);
      expect(one).toEqual({ ...events[0], body: text.encode("resealed") });
      expect(two).toEqual(events[1]);
      // Read unredacted, redacted since: the rewrite must not bring the old body back.
      await store.redact(scope, conv, 2, text.encode("[redacted]"));
      expect(await store.rewriteBody(scope, conv, 2, text.encode("old body"), false)).toBe(false);
      expect(untext.decode((await store.read(scope, conv, 1, 1))[0]!.body)).toBe("[redacted]");
      expect(await store.rewriteBody(scope, conv, 2, text.encode("[redacted again]"), true)).toBe(true);
      expect((await store.read(scope, conv, 1, 1))[0]).toMatchObject({ redacted: true, body: text.encode("[redacted again]") });
      expect(await store.rewriteBody(freshTenantScope(), conv, 1, text.encode("x"), false)).toBe(false);
      expect(await store.rewriteBody(scope, conv, 9, text.encode("x"), false)).toBe(false);
    });

    it("serves the outbox: unpublished events in (tenant, conversation, seq) order, by commit time and limit", async () => {
      await drainOutbox(store);
      const [t1, t2] = [freshTenantScope(), freshTenantScope()].sort((x, y) => (x.tenantId < y.tenantId ? -1 : 1)) as [TenantScope, TenantScope];
      const [c1, c2] = [newId(), newId()].sort() as [string, string];
      const early = clock.nowMs();
      // Interleaved on purpose: the outbox order is not the commit order.
      await appendN(store, t2, c1, 1);
      await appendN(store, t1, c2, 2);
      await appendN(store, t1, c1, 2);
      clock.advance(60_000);
      await appendN(store, t1, c1, 1);
      const key = (e: LogEvent) => `${e.tenantId === t1.tenantId ? "t1" : "t2"}/${e.conversationId === c1 ? "c1" : "c2"}/${e.seq}`;
      expect((await store.unpublished(100, clock.nowMs())).map(key)).toEqual(["t1/c1/1", "t1/c1/2", "t1/c1/3", "t1/c2/1", "t1/c2/2", "t2/c1/1"]);
      expect((await store.unpublished(100, early)).map(key)).toEqual(["t1/c1/1", "t1/c1/2", "t1/c2/1", "t1/c2/2", "t2/c1/1"]);
      expect((await store.unpublished(2, clock.nowMs())).map(key)).toEqual(["t1/c1/1", "t1/c1/2"]);
      expect(await store.unpublished(100, early - 1)).toEqual([]);

      const firstTwo = (await store.unpublished(2, clock.nowMs())).map(({ tenantId, conversationId, seq }) => ({ tenantId, conversationId, seq }));
      await store.markPublished(firstTwo);
      await store.markPublished([...firstTwo, { tenantId: t1.tenantId, conversationId: c1, seq: 99 }, { tenantId: "nobody", conversationId: c1, seq: 1 }]);
      await store.markPublished([]);
      expect((await store.unpublished(100, clock.nowMs())).map(key)).toEqual(["t1/c1/3", "t1/c2/1", "t1/c2/2", "t2/c1/1"]);
      // Publishing is bookkeeping only: the events themselves are unchanged.
      expect((await store.read(t1, c1, 0, 10)).map((e) => e.seq)).toEqual([1, 2, 3]);
      // Another instance sees the same outbox.
      expect((await (await another()).unpublished(100, clock.nowMs())).map(key)).toEqual(["t1/c1/3", "t1/c2/1", "t1/c2/2", "t2/c1/1"]);
      await expect(store.unpublished(0, clock.nowMs())).rejects.toThrow(RangeError);
    });

    it("reopens without re-running migrations and keeps the data", async () => {
      const events = await appendN(store, scope, conv, 2);
      await store.close();
      const runs: MigrationResult[] = [];
      store = await open({ clock, onMigrated: (r) => runs.push(r) });
      expect(runs).toHaveLength(1);
      expect(runs[0]!.applied).toEqual([]);
      expect(runs[0]!.from).toBe(runs[0]!.to);
      expect(runs[0]!.to).toBeGreaterThanOrEqual(1);
      expect(await store.read(scope, conv, 0, 10)).toEqual(events);
      expect((await store.append(scope, input(conv))).event.seq).toBe(3);
    });

    it("takes a head hint as a place to start, never as the truth", async () => {
      // Another instance wrote the log, so this one knows no head of its own for it.
      const writer = await another();
      await appendN(writer, scope, conv, 5, (i) => i !== 2);
      const fresh = await another();
      const hinted = async (headHint: { seq: number; countableSeq: number }) => {
        const r = await (await another()).append(scope, { ...input(conv), headHint });
        expect(r.kind).toBe("appended");
        return [r.event.seq, r.event.countableSeq];
      };
      // Right, behind, with a wrong counter, ahead of the log, and nonsense: always the next seq and the true count.
      expect(await hinted({ seq: 5, countableSeq: 4 })).toEqual([6, 5]);
      expect(await hinted({ seq: 2, countableSeq: 2 })).toEqual([7, 6]);
      expect(await hinted({ seq: 7, countableSeq: 99 })).toEqual([8, 7]);
      expect(await hinted({ seq: 50, countableSeq: 40 })).toEqual([9, 8]);
      expect(await hinted({ seq: -1, countableSeq: 0.5 })).toEqual([10, 9]);
      const r = await fresh.append(scope, { ...input(conv), headHint: { seq: 0, countableSeq: 0 } });
      expect([r.event.seq, r.event.countableSeq]).toEqual([11, 10]);
      expect((await store.read(scope, conv, 0, 100)).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      // The writer's own head (5) is stale: a hint ahead of it, right or not, and one behind it.
      const own = async (headHint: { seq: number; countableSeq: number }) => {
        const a = await writer.append(scope, { ...input(conv), headHint });
        return [a.event.seq, a.event.countableSeq];
      };
      expect(await own({ seq: 11, countableSeq: 10 })).toEqual([12, 11]);
      expect(await own({ seq: 3, countableSeq: 3 })).toEqual([13, 12]);
      expect(await own({ seq: 13, countableSeq: 99 })).toEqual([14, 13]);
      // head() takes the same kind of hint: behind, at the head with a wrong counter, ahead, or none.
      for (const hint of [{ seq: 2, countableSeq: 2 }, { seq: 14, countableSeq: 99 }, { seq: 50, countableSeq: 1 }, undefined]) {
        expect(await (await another()).head(scope, conv, hint)).toEqual({ seq: 14, countableSeq: 13 });
        expect(await fresh.head(scope, conv, hint)).toEqual({ seq: 14, countableSeq: 13 });
      }
      expect(await fresh.head(freshTenantScope(), conv, { seq: 3, countableSeq: 3 })).toEqual({ seq: 0, countableSeq: 0 });
    });

    it("refuses calls after close UNAVAILABLE (the caller retries on another instance)", async () => {
      const s = await another();
      await s.close();
      await expect(s.head(scope, conv)).rejects.toThrow(UnavailableError);
      await expect(s.append(scope, input(conv))).rejects.toThrow(UnavailableError);
    });
  });
}
