import { randomUUID } from "node:crypto";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LegalHoldRecord, RetentionPolicyRecord, RetentionStore } from "../../src/ports/retention-store.js";

/** Two handles on one fresh backend namespace, like two compliance processes. */
export interface RetentionStoresUnderTest {
  a: RetentionStore;
  b: RetentionStore;
  close(): Promise<void>;
}

const policy = (scope: TenantScope, o: Partial<RetentionPolicyRecord> = {}): RetentionPolicyRecord => ({
  tenantId: scope.tenantId,
  conversationId: "",
  messageMaxAgeMs: 86_400_000,
  mediaMaxAgeMs: 0,
  exportMaxAgeMs: 0,
  updateTimeMs: 1000,
  ...o,
});

const hold = (scope: TenantScope, o: Partial<LegalHoldRecord> = {}): LegalHoldRecord => ({
  tenantId: scope.tenantId,
  id: randomUUID(),
  kind: "user",
  targetId: "alice",
  reason: "case 17",
  createTimeMs: 1000,
  releaseTimeMs: 0,
  ...o,
});

/** The RetentionStore contract, run against every adapter. */
export function retentionStoreContract(name: string, open: () => Promise<RetentionStoresUnderTest>): void {
  describe(`RetentionStore contract: ${name}`, () => {
    let inst: RetentionStoresUnderTest;
    let scope: TenantScope;
    beforeEach(async () => {
      inst = await open();
      scope = freshTenantScope();
    });
    afterEach(async () => inst.close());

    it("puts, replaces, reads and deletes the tenant's and conversations' policies", async () => {
      const conv = randomUUID();
      await inst.a.putPolicy(scope, policy(scope));
      await inst.a.putPolicy(scope, policy(scope, { conversationId: conv, messageMaxAgeMs: 3_600_000, mediaMaxAgeMs: 60_000 }));
      await inst.b.putPolicy(scope, policy(scope, { messageMaxAgeMs: 7_200_000, updateTimeMs: 2000 }));
      expect(await inst.a.getPolicy(scope, "")).toEqual(policy(scope, { messageMaxAgeMs: 7_200_000, updateTimeMs: 2000 }));
      expect(await inst.b.getPolicy(scope, conv)).toEqual(policy(scope, { conversationId: conv, messageMaxAgeMs: 3_600_000, mediaMaxAgeMs: 60_000 }));
      expect((await inst.a.policies(scope)).map((p) => p.conversationId)).toEqual(["", conv]);
      expect(await inst.a.deletePolicy(scope, conv)).toBe(true);
      expect(await inst.b.deletePolicy(scope, conv)).toBe(false);
      expect(await inst.a.getPolicy(scope, conv)).toBeUndefined();
    });

    it("lists the tenants that have policies, in id order, paged", async () => {
      const scopes = [freshTenantScope(), freshTenantScope(), freshTenantScope()].sort((x, y) => x.tenantId.localeCompare(y.tenantId));
      for (const s of scopes) await inst.a.putPolicy(s, policy(s));
      await inst.a.putPolicy(scopes[0]!, policy(scopes[0]!, { conversationId: randomUUID() }));
      const ids = scopes.map((s) => s.tenantId);
      const first = await inst.b.tenantsWithPolicies({ after: "", limit: 2 });
      expect(first).toEqual(ids.slice(0, 2));
      expect(await inst.b.tenantsWithPolicies({ after: first[1]!, limit: 10 })).toEqual(ids.slice(2));
    });

    it("keeps one active hold per target; a release frees the target and keeps its first time", async () => {
      const h = hold(scope);
      expect(await inst.a.placeHold(scope, h)).toEqual({ hold: h, created: true });
      expect(await inst.b.placeHold(scope, hold(scope, { createTimeMs: 2000 }))).toEqual({ hold: h, created: false });
      const conv = hold(scope, { kind: "conversation", targetId: randomUUID(), createTimeMs: 3000 });
      const whole = hold(scope, { kind: "tenant", targetId: "", createTimeMs: 4000 });
      await inst.a.placeHold(scope, conv);
      await inst.a.placeHold(scope, whole);
      expect((await inst.b.holds(scope, { includeReleased: false })).map((x) => x.id)).toEqual([whole.id, conv.id, h.id]);

      expect(await inst.a.releaseHold(scope, h.id, 5000)).toEqual({ hold: { ...h, releaseTimeMs: 5000 }, changed: true });
      expect(await inst.b.releaseHold(scope, h.id, 6000)).toEqual({ hold: { ...h, releaseTimeMs: 5000 }, changed: false });
      expect(await inst.a.releaseHold(scope, randomUUID(), 6000)).toBeUndefined();
      expect((await inst.a.holds(scope, { includeReleased: false })).map((x) => x.id)).toEqual([whole.id, conv.id]);
      expect((await inst.a.holds(scope, { includeReleased: true })).map((x) => x.id)).toEqual([whole.id, conv.id, h.id]);
      const again = hold(scope, { createTimeMs: 7000 });
      expect((await inst.b.placeHold(scope, again)).created).toBe(true);
    });

    it("never shows one tenant's policies or holds to another", async () => {
      const other = freshTenantScope();
      const conv = randomUUID();
      await inst.a.putPolicy(scope, policy(scope, { conversationId: conv }));
      const h = hold(scope);
      await inst.a.placeHold(scope, h);
      expect(await inst.b.getPolicy(other, conv)).toBeUndefined();
      expect(await inst.b.policies(other)).toEqual([]);
      expect(await inst.b.deletePolicy(other, conv)).toBe(false);
      expect(await inst.b.holds(other, { includeReleased: true })).toEqual([]);
      expect(await inst.b.releaseHold(other, h.id, 9000)).toBeUndefined();
      // The same target held in another tenant is a hold of its own.
      expect((await inst.b.placeHold(other, hold(other))).created).toBe(true);
      expect((await inst.a.holds(scope, { includeReleased: false })).map((x) => [x.id, x.releaseTimeMs])).toEqual([[h.id, 0]]);
      await expect(inst.a.putPolicy(scope, policy(other))).rejects.toThrow(RangeError);
      await expect(inst.a.placeHold(scope, hold(other))).rejects.toThrow(RangeError);
    });
  });
}
