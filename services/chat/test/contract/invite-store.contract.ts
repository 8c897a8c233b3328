import { newId } from "@caas/shared/ids";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { InviteRecord, InviteStore } from "../../src/ports/invite-store.js";
import type { Instances, OpenInstances } from "../support/backends.js";

const T0 = Date.UTC(2026, 0, 1);

function invite(o: Partial<InviteRecord> = {}): InviteRecord {
  return { id: newId(), conversationId: newId(), codeHash: `h${newId()}`, createdBy: "alice", createTimeMs: T0, expireTimeMs: T0 + 1000, maxUses: 0, revokeTimeMs: 0, ...o };
}

/** The InviteStore contract, run against every adapter. */
export function inviteStoreContract(name: string, open: OpenInstances): void {
  describe(`InviteStore contract: ${name}`, () => {
    let inst: Instances;
    let store: InviteStore;
    let scope: TenantScope;

    beforeEach(async () => {
      inst = await open();
      store = inst.a.invites;
      scope = freshTenantScope();
    });
    afterEach(() => inst.close());

    it("stores invites, finds them by id and code hash within the tenant only, and revokes once", async () => {
      const i = invite({ maxUses: 3 });
      await store.create(scope, i);
      expect(await inst.b.invites.get(scope, i.id)).toEqual(i);
      expect(await inst.b.invites.byCodeHash(scope, i.codeHash)).toEqual(i);
      expect(await store.get(freshTenantScope(), i.id)).toBeUndefined();
      expect(await store.byCodeHash(freshTenantScope(), i.codeHash)).toBeUndefined();
      await expect(store.create(scope, invite({ codeHash: i.codeHash }))).rejects.toThrow(RangeError);
      // The same code hash in another tenant is another invite.
      await store.create(freshTenantScope(), invite({ codeHash: i.codeHash }));
      expect(await store.revoke(scope, i.id, T0 + 5)).toMatchObject({ revokeTimeMs: T0 + 5 });
      expect(await inst.b.invites.revoke(scope, i.id, T0 + 9)).toMatchObject({ revokeTimeMs: T0 + 5 });
      expect(await store.revoke(scope, newId(), T0)).toBeUndefined();
      await expect(store.create(scope, invite({ revokeTimeMs: 1 }))).rejects.toThrow(RangeError);
    });

    it("claims one use per user and never more than maxUses, also racing from two instances", async () => {
      const i = invite({ maxUses: 5 });
      await store.create(scope, i);
      expect(await store.claim(scope, i, "u0", T0)).toBe("claimed");
      expect(await inst.b.invites.claim(scope, i, "u0", T0)).toBe("already");
      const users = Array.from({ length: 12 }, (_, k) => `u${k + 1}`);
      const results = await Promise.all(users.map((u, k) => (k % 2 ? inst.b.invites : store).claim(scope, i, u, T0)));
      expect(results.filter((r) => r === "claimed")).toHaveLength(4);
      expect(results.filter((r) => r === "exhausted")).toHaveLength(8);
      expect(await store.useCount(scope, i.id)).toBe(5);
      expect(await store.useCount(freshTenantScope(), i.id)).toBe(0);
      // No limit: everyone gets in.
      const open = invite();
      await store.create(scope, open);
      const all = await Promise.all(users.map((u, k) => (k % 2 ? inst.b.invites : store).claim(scope, open, u, T0)));
      expect(all.every((r) => r === "claimed")).toBe(true);
      expect(await inst.b.invites.useCount(scope, open.id)).toBe(12);
    });
  });
}
