import { randomUUID } from "node:crypto";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PrivacyJobRecord, PrivacyJobStore } from "../../src/ports/privacy-job-store.js";

/** Two handles on one fresh backend namespace, like two compliance processes. */
export interface JobStoresUnderTest {
  a: PrivacyJobStore;
  b: PrivacyJobStore;
  close(): Promise<void>;
}

function job(scope: TenantScope, o: Partial<PrivacyJobRecord> = {}): PrivacyJobRecord {
  return {
    tenantId: scope.tenantId,
    id: randomUUID(),
    kind: "erasure",
    userId: "alice",
    state: "running",
    steps: [
      { service: "auth", items: 0, done: false, cursor: "" },
      { service: "chat", items: 0, done: false, cursor: "" },
    ],
    error: "",
    createTimeMs: 1000,
    updateTimeMs: 1000,
    completeTimeMs: 0,
    expireTimeMs: 0,
    deleteReason: "",
    ...o,
  };
}

/** The PrivacyJobStore contract, run against every adapter. */
export function privacyJobStoreContract(name: string, open: () => Promise<JobStoresUnderTest>): void {
  describe(`PrivacyJobStore contract: ${name}`, () => {
    let inst: JobStoresUnderTest;
    let scope: TenantScope;
    beforeEach(async () => {
      inst = await open();
      scope = freshTenantScope();
    });
    afterEach(() => inst.close());

    it("stores a job and reads it back from another handle", async () => {
      const j = job(scope);
      expect(await inst.a.create(scope, j)).toEqual({ job: j, created: true });
      expect(await inst.b.get(scope, j.id)).toEqual(j);
      expect(await inst.b.latest(scope, "erasure", "alice")).toEqual(j);
      expect(await inst.b.get(scope, randomUUID())).toBeUndefined();
      expect(await inst.b.latest(scope, "erasure", "bob")).toBeUndefined();
    });

    it("keeps one unfinished job per user and kind, also under concurrent creates; a new one once it succeeded", async () => {
      const tries = [job(scope), job(scope), job(scope), job(scope)];
      const outcomes = await Promise.all(tries.map((t, i) => (i % 2 ? inst.a : inst.b).create(scope, t)));
      expect(outcomes.filter((o) => o.created)).toHaveLength(1);
      const winner = outcomes.find((o) => o.created)!.job;
      for (const o of outcomes) expect(o.job.id).toBe(winner.id);

      await inst.a.save(scope, { ...winner, state: "failed", error: "auth unavailable", updateTimeMs: 2000 });
      expect((await inst.b.create(scope, job(scope))).job).toMatchObject({ id: winner.id, state: "failed", error: "auth unavailable" });

      await inst.a.save(scope, { ...winner, state: "succeeded", error: "", updateTimeMs: 3000, completeTimeMs: 3000 });
      const next = await inst.b.create(scope, job(scope, { createTimeMs: 4000 }));
      expect(next.created).toBe(true);
      expect((await inst.a.latest(scope, "erasure", "alice"))!.id).toBe(next.job.id);
      expect(await inst.a.create(scope, job(scope, { userId: "bob" }))).toMatchObject({ created: true });
    });

    it("never saves over an expired job: its archive is gone and it stays expired", async () => {
      const j = job(scope, { userId: "erin", createTimeMs: 50 });
      await inst.a.create(scope, j);
      expect(await inst.a.save(scope, { ...j, state: "running", updateTimeMs: 60 })).toBe(true);
      expect(await inst.b.save(scope, { ...j, state: "expired", deleteReason: "erasure", updateTimeMs: 70 })).toBe(true);
      const late = { ...j, state: "running" as const, steps: [{ service: "chat", items: 500, done: false, cursor: "p2" }], updateTimeMs: 80 };
      expect(await inst.a.save(scope, late)).toBe(false);
      expect(await inst.a.get(scope, j.id)).toMatchObject({ state: "expired", deleteReason: "erasure", updateTimeMs: 70 });
    });

    it("saves progress and lists unfinished jobs of every tenant, oldest first", async () => {
      const other = freshTenantScope();
      const j = job(scope, { createTimeMs: 10 });
      const k = job(other, { createTimeMs: 20 });
      const done = job(scope, { userId: "carol", createTimeMs: 5 });
      for (const [s, x] of [
        [scope, j],
        [other, k],
        [scope, done],
      ] as const)
        await inst.a.create(s, x);
      await inst.a.save(scope, { ...done, state: "succeeded", completeTimeMs: 30 });
      const steps = [
        { service: "auth", items: 3, done: true, cursor: "" },
        { service: "chat", items: 120, done: false, cursor: "tok" },
      ];
      await inst.b.save(scope, { ...j, steps, updateTimeMs: 40 });
      expect((await inst.a.get(scope, j.id))!.steps).toEqual(steps);
      const ids = (await inst.a.unfinished(1000)).map((x) => x.id);
      expect(ids.indexOf(j.id)).toBeGreaterThanOrEqual(0);
      expect(ids.indexOf(j.id)).toBeLessThan(ids.indexOf(k.id));
      expect(ids).not.toContain(done.id);
    });

    it("lists a user's jobs of a kind oldest first, and the succeeded ones due to expire, per tenant or all, soonest first", async () => {
      const other = freshTenantScope();
      const exp = (s: TenantScope, o: Partial<PrivacyJobRecord>) => job(s, { kind: "export", ...o });
      const old = exp(scope, { createTimeMs: 10 });
      const newer = exp(scope, { createTimeMs: 20 });
      const later = exp(scope, { createTimeMs: 30, userId: "bob" });
      const theirs = exp(other, { createTimeMs: 15 });
      for (const [s, x] of [
        [scope, old],
        [scope, later],
        [other, theirs],
      ] as const)
        await inst.a.create(s, x);
      await inst.a.save(scope, { ...old, state: "succeeded", completeTimeMs: 100, expireTimeMs: 500 });
      await inst.a.create(scope, newer);
      await inst.a.save(scope, { ...newer, state: "succeeded", completeTimeMs: 200, expireTimeMs: 300 });
      await inst.a.save(scope, { ...later, state: "succeeded", completeTimeMs: 200, expireTimeMs: 900 });
      await inst.a.save(other, { ...theirs, state: "succeeded", completeTimeMs: 100, expireTimeMs: 400 });
      await inst.a.create(scope, job(scope, { userId: "alice" }));
      expect((await inst.b.ofUser(scope, "export", "alice", 10)).map((x) => x.id)).toEqual([old.id, newer.id]);
      expect((await inst.b.ofUser(scope, "export", "alice", 1)).map((x) => x.id)).toEqual([old.id]);
      expect(await inst.b.ofUser(other, "export", "bob", 10)).toEqual([]);

      const dueAll = (await inst.b.dueToExpire({ nowMs: 500, limit: 1000 })).filter((x) => [scope.tenantId, other.tenantId].includes(x.tenantId));
      expect(dueAll.map((x) => x.id)).toEqual([newer.id, theirs.id, old.id]);
      expect((await inst.b.dueToExpire({ nowMs: 500, limit: 10, tenantId: scope.tenantId })).map((x) => x.id)).toEqual([newer.id, old.id]);
      expect((await inst.b.dueToExpire({ nowMs: 500, limit: 10, tenantId: other.tenantId })).map((x) => x.id)).toEqual([theirs.id]);
      expect(await inst.b.dueToExpire({ nowMs: 299, limit: 10, tenantId: scope.tenantId })).toEqual([]);

      // Expired jobs are neither due again nor unfinished, and a new export of the user can start.
      await inst.a.save(scope, { ...newer, state: "expired", completeTimeMs: 200, expireTimeMs: 300, deleteReason: "retention" });
      expect(await inst.b.get(scope, newer.id)).toMatchObject({ state: "expired", expireTimeMs: 300, deleteReason: "retention" });
      expect((await inst.b.dueToExpire({ nowMs: 500, limit: 10, tenantId: scope.tenantId })).map((x) => x.id)).toEqual([old.id]);
      expect((await inst.b.unfinished(1000)).map((x) => x.id)).not.toContain(newer.id);
      // A tenant's exports not yet expired, of every user (what a tenant deletion removes); never another tenant's.
      expect((await inst.b.openOfKind(scope, "export", 10)).map((x) => x.id)).toEqual([old.id, later.id]);
      expect((await inst.b.openOfKind(scope, "export", 1)).map((x) => x.id)).toEqual([old.id]);
      expect((await inst.b.openOfKind(other, "export", 10)).map((x) => x.id)).toEqual([theirs.id]);
      await expect(inst.a.save(scope, { ...old, deleteReason: "lost" as never })).rejects.toThrow(RangeError);
    });

    it("keeps tenants apart", async () => {
      const other = freshTenantScope();
      const j = job(scope);
      await inst.a.create(scope, j);
      expect(await inst.a.get(other, j.id)).toBeUndefined();
      expect(await inst.a.latest(other, "erasure", "alice")).toBeUndefined();
      expect((await inst.a.create(other, job(other))).created).toBe(true);
      await expect(inst.a.save(other, j)).rejects.toThrow(RangeError);
      await expect(inst.a.get({ tenantId: scope.tenantId } as never, j.id)).rejects.toThrow(TypeError);
    });
  });
}
