import { AlreadyExistsError } from "@caas/shared/errors";
import { newId } from "@caas/shared/ids";
import { scopeForAdmin, type TenantScope } from "@caas/shared/tenant-scope";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ApiKeyRecord } from "../../src/ports/api-key-store.js";
import type { Instances, OpenInstances } from "../support/backends.js";

const forged = { tenantId: "forged" } as never;

function key(scope: TenantScope, o: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return {
    id: newId(),
    tenantId: scope.tenantId,
    name: "backend",
    prefix: "caas_k_abcdefgh",
    secretHash: "aGFzaA",
    createTimeMs: 1000,
    lastUsedTimeMs: 0,
    ...o,
  };
}

/** The ApiKeyStore contract, run against every adapter. */
export function apiKeyStoreContract(name: string, open: OpenInstances): void {
  describe(`ApiKeyStore contract: ${name}`, () => {
    let s: Instances;
    let scope: TenantScope;
    beforeEach(async () => {
      s = await open();
      scope = freshTenantScope();
    });
    afterEach(async () => {
      await s.close();
    });

    it("stores a key that every instance reads back by id; a duplicate id is ALREADY_EXISTS", async () => {
      const k = key(scope);
      await s.a.apiKeys.create(scope, k);
      expect(await s.b.apiKeys.get(k.id)).toEqual(k);
      await expect(s.b.apiKeys.create(scope, { ...k, name: "again" })).rejects.toBeInstanceOf(AlreadyExistsError);
      expect(await s.a.apiKeys.get(newId())).toBeUndefined();
      const revoked = key(scope, { revokeTimeMs: 5000 });
      await s.a.apiKeys.create(scope, revoked);
      expect(await s.b.apiKeys.get(revoked.id)).toEqual(revoked);
    });

    it("lists newest first with a keyset, hiding keys revoked by now unless asked", async () => {
      const keys: ApiKeyRecord[] = [];
      for (let i = 0; i < 4; i++) keys.push(key(scope, { name: `k${i}`, ...(i === 1 ? { revokeTimeMs: 2000 } : i === 2 ? { revokeTimeMs: 9000 } : {}) }));
      for (const k of keys) await s.a.apiKeys.create(scope, k);
      const all = await s.b.apiKeys.list(scope, { includeRevoked: true, nowMs: 5000, limit: 10 });
      expect(all.map((k) => k.name)).toEqual(["k3", "k2", "k1", "k0"]);
      const live = await s.b.apiKeys.list(scope, { includeRevoked: false, nowMs: 5000, limit: 10 });
      expect(live.map((k) => k.name)).toEqual(["k3", "k2", "k0"]);
      const page = await s.b.apiKeys.list(scope, { includeRevoked: true, nowMs: 5000, limit: 2, beforeId: all[1]!.id });
      expect(page.map((k) => k.name)).toEqual(["k1", "k0"]);
      expect(await s.a.apiKeys.countActive(scope, 5000)).toBe(3);
      expect(await s.a.apiKeys.countActive(scope, 9000)).toBe(2);
    });

    it("revokes: the earliest time wins, and if-unrevoked changes only a key without one", async () => {
      const k = key(scope);
      await s.a.apiKeys.create(scope, k);
      expect(await s.b.apiKeys.revoke(k.id, 8000, "if-unrevoked")).toEqual({ record: { ...k, revokeTimeMs: 8000 }, changed: true });
      expect(await s.a.apiKeys.revoke(k.id, 7000, "if-unrevoked")).toEqual({ record: { ...k, revokeTimeMs: 8000 }, changed: false });
      expect(await s.a.apiKeys.revoke(k.id, 9000, "earliest")).toEqual({ record: { ...k, revokeTimeMs: 8000 }, changed: false });
      expect(await s.a.apiKeys.revoke(k.id, 6000, "earliest")).toEqual({ record: { ...k, revokeTimeMs: 6000 }, changed: true });
      expect((await s.b.apiKeys.get(k.id))?.revokeTimeMs).toBe(6000);
      expect(await s.a.apiKeys.revoke(newId(), 6000, "earliest")).toBeUndefined();
    });

    it("records uses at most once per interval", async () => {
      const k = key(scope);
      await s.a.apiKeys.create(scope, k);
      await s.a.apiKeys.touch(k.id, 100_000, 60_000);
      await s.b.apiKeys.touch(k.id, 130_000, 60_000);
      expect((await s.a.apiKeys.get(k.id))?.lastUsedTimeMs).toBe(100_000);
      await s.b.apiKeys.touch(k.id, 160_000, 60_000);
      expect((await s.a.apiKeys.get(k.id))?.lastUsedTimeMs).toBe(160_000);
      await s.b.apiKeys.touch(newId(), 160_000, 60_000);
    });

    it("keeps tenants apart: lists and counts show only the scope's keys", async () => {
      const other = freshTenantScope();
      const mine = key(scope);
      const theirs = key(other);
      await s.a.apiKeys.create(scope, mine);
      await s.a.apiKeys.create(other, theirs);
      expect((await s.b.apiKeys.list(scope, { includeRevoked: true, nowMs: 0, limit: 10 })).map((k) => k.id)).toEqual([mine.id]);
      expect((await s.b.apiKeys.list(other, { includeRevoked: true, nowMs: 0, limit: 10 })).map((k) => k.id)).toEqual([theirs.id]);
      expect(await s.b.apiKeys.countActive(other, 0)).toBe(1);
      await s.a.apiKeys.revoke(theirs.id, 10, "earliest");
      expect(await s.b.apiKeys.countActive(scope, 100)).toBe(1);
      // A record naming another tenant than its scope is refused: the scope decides.
      await expect(s.a.apiKeys.create(scope, key(other))).rejects.toThrow(RangeError);
      expect(await s.b.apiKeys.countActive(scopeForAdmin(other.tenantId), 0)).toBe(1);
    });

    it("refuses forged scopes and bad arguments", async () => {
      await expect(s.a.apiKeys.create(forged, key(scope))).rejects.toThrow(TypeError);
      await expect(s.a.apiKeys.list(forged, { includeRevoked: true, nowMs: 0, limit: 1 })).rejects.toThrow(TypeError);
      await expect(s.a.apiKeys.countActive(forged, 0)).rejects.toThrow(TypeError);
      await expect(s.a.apiKeys.create(scope, key(scope, { name: "" }))).rejects.toThrow(RangeError);
      await expect(s.a.apiKeys.revoke(newId(), -1, "earliest")).rejects.toThrow(RangeError);
      await expect(s.a.apiKeys.revoke(newId(), 1, "latest" as never)).rejects.toThrow(RangeError);
      await expect(s.a.apiKeys.list(scope, { includeRevoked: true, nowMs: 0, limit: 1001 })).rejects.toThrow(RangeError);
    });
  });
}
