import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AuditEvent } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import type { AuditFilter, AuditStore } from "../../src/ports/audit-store.js";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { apiKeyOf, auditWorld, draft } from "../support/audit-world.js";
import type { AuditBackendUnderTest } from "../support/backends.js";

const LAST = BigInt(Number.MAX_SAFE_INTEGER);
const positions = (events: readonly AuditEvent[]) => events.map((e) => Number(e.position));
const span = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Every page of a listing, following resumeAfter (pages may be short). */
async function listAll(store: AuditStore, scope: TenantScope, filter: AuditFilter, limit: number): Promise<{ events: AuditEvent[]; pages: number }> {
  const events: AuditEvent[] = [];
  let after: bigint | undefined = 0n;
  let pages = 0;
  while (after !== undefined) {
    const page = await store.list(scope, filter, after, limit);
    expect(page.events.length).toBeLessThanOrEqual(limit);
    events.push(...page.events);
    after = page.resumeAfter;
    pages++;
  }
  return { events, pages };
}

/** The AuditStore contract for runs of records (insertRun, appendBatch) and for chains longer than a store's read blocks. */
export function auditStoreRunContract(name: string, open: () => Promise<AuditBackendUnderTest>): void {
  describe(`AuditStore contract, runs and long chains: ${name}`, () => {
    let inst: AuditBackendUnderTest;

    beforeEach(async () => {
      inst = await open();
    });
    afterEach(() => inst.close());

    it("insertRun writes the prefix up to a taken position or a recorded source event, and only the scope's tenant", async () => {
      const scope = freshTenantScope();
      const elsewhere = freshTenantScope();
      const made = await auditWorld(inst.a).appender.appendBatch(
        elsewhere,
        ["r1", "r2", "r3", "r4"].map((id) => draft(id)),
      );
      const run = made.map(({ event }) => ({ ...event, tenantId: scope.tenantId }));
      expect(await inst.b.insert(scope, run[1]!)).toEqual({ kind: "inserted" });
      expect(await inst.a.insertRun(scope, run.slice(0, 3))).toBe(1);
      expect(await inst.a.insertRun(scope, [{ ...run[2]!, sourceEventId: "r1" }, run[3]!])).toBe(0);
      expect(await inst.a.insertRun(scope, run.slice(2))).toBe(2);
      expect(await inst.a.insertRun(scope, [])).toBe(0);
      expect(positions(await inst.b.range(scope, 1n, 10n, 10))).toEqual([1, 2, 3, 4]);
      expect(await inst.b.head(scope)).toEqual({ position: 4n, hash: run[3]!.hash });
      await expect(inst.a.insertRun(scope, [made[0]!.event])).rejects.toThrow(RangeError);
    });

    it("appendBatch chains a batch after the head; redelivered and repeated source events are one record each", async () => {
      const scope = freshTenantScope();
      const { appender, service } = auditWorld(inst.a, { checkpointEvery: 2 });
      const first = await appender.append(scope, draft("b1"));
      const out = await appender.appendBatch(scope, [draft("b2"), draft("b1"), draft("b3"), draft("b2", { action: "other" }), draft("b4")]);
      expect(out.map((r) => [r.event.sourceEventId, Number(r.event.position), r.duplicate])).toEqual([
        ["b2", 2, false],
        ["b1", 1, true],
        ["b3", 3, false],
        ["b2", 2, false],
        ["b4", 4, false],
      ]);
      expect(out[1]!.event).toEqual(first.event);
      expect(positions(await inst.b.range(scope, 1n, LAST, 100))).toEqual([1, 2, 3, 4]);
      expect((await inst.b.checkpoints(scope, 0n, LAST)).map((c) => Number(c.position))).toEqual([2, 4]);
      expect(await service.verifyAuditLog({ startPosition: 0n, endPosition: 0n } as never, apiKeyOf(scope))).toMatchObject({ ok: true, recordsChecked: 4n, signedThrough: 4n });
    });

    it("batches and single appends racing on two instances build one dense chain, each source event once", async () => {
      const scope = freshTenantScope();
      const a = auditWorld(inst.a, { checkpointEvery: 10 });
      const b = auditWorld(inst.b, { checkpointEvery: 10 });
      const ids = span(1, 60).map((i) => `q${i}`);
      await Promise.all([
        a.appender.appendBatch(
          scope,
          ids.slice(0, 40).map((id) => draft(id)),
        ),
        b.appender.appendBatch(
          scope,
          ids.slice(20, 60).map((id) => draft(id)),
        ),
        ...ids.slice(30, 50).map((id) => b.appender.append(scope, draft(id))),
        a.appender.appendBatch(
          scope,
          ids.slice(50).map((id) => draft(id)),
        ),
      ]);
      const rows = await inst.a.range(scope, 1n, LAST, 1000);
      expect(positions(rows)).toEqual(span(1, 60));
      expect(new Set(rows.map((r) => r.sourceEventId)).size).toBe(60);
      expect(await a.service.verifyAuditLog({ startPosition: 0n, endPosition: 0n } as never, apiKeyOf(scope))).toMatchObject({ ok: true, recordsChecked: 60n });
    });

    it("a chain of 1,100 records reads the same from a cold instance: head, ranges, pages, checkpoints", async () => {
      const scope = freshTenantScope();
      const { appender, service } = auditWorld(inst.a, { checkpointEvery: 100 });
      const drafts = span(1, 1100).map((i) => draft(`n${i}`, i % 350 === 0 ? { actor: { kind: 1, id: "bob" } } : {}));
      const made = await appender.appendBatch(scope, drafts);
      expect(await inst.b.head(scope)).toEqual({ position: 1100n, hash: made.at(-1)!.event.hash });
      expect(positions(await inst.b.range(scope, 250n, 530n, 1000))).toEqual(span(250, 530));
      expect(positions(await inst.b.range(scope, 1n, LAST, 1000))).toEqual(span(1, 1000));
      expect(positions(await inst.b.range(scope, 1001n, LAST, 1000))).toEqual(span(1001, 1100));
      expect(positions(await inst.b.range(scope, 1101n, LAST, 1000))).toEqual([]);
      const all = await listAll(inst.b, scope, {}, 300);
      expect(positions(all.events)).toEqual(span(1, 1100));
      expect(positions((await listAll(inst.b, scope, { actorId: ["bob", "nobody"] }, 2)).events)).toEqual([350, 700, 1050]);
      expect(positions((await listAll(inst.b, scope, { actorId: "bob", endTimeMs: 0 }, 5)).events)).toEqual([]);
      expect((await inst.b.checkpoints(scope, 150n, 1050n)).map((c) => Number(c.position))).toEqual(span(2, 10).map((i) => i * 100));
      expect((await inst.b.checkpointAtOrBefore(scope, 1099n))?.position).toBe(1000n);
      expect((await inst.b.checkpointAtOrBefore(scope, LAST))?.position).toBe(1100n);
      expect(await inst.b.checkpointAtOrBefore(scope, 99n)).toBeUndefined();
      // Another instance appends on: a stale starting point still finds the new head.
      const more = await appender.appendBatch(
        scope,
        span(1101, 1137).map((i) => draft(`n${i}`)),
      );
      expect(await inst.b.head(scope)).toEqual({ position: 1137n, hash: more.at(-1)!.event.hash });
      const whole = await auditWorld(inst.b).service.verifyAuditLog({ startPosition: 0n, endPosition: 0n } as never, apiKeyOf(scope));
      expect(whole).toMatchObject({ ok: true, recordsChecked: 1137n, checkpointsChecked: 11n });
      expect(await service.verifyAuditLog({ startPosition: 640n, endPosition: 900n } as never, apiKeyOf(scope))).toMatchObject({ ok: true, recordsChecked: 300n, signedThrough: 900n });
    });
  });
}
