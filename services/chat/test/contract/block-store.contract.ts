import type { TenantScope } from "@caas/shared/tenant-scope";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BlockStore } from "../../src/ports/block-store.js";
import type { Instances, OpenInstances } from "../support/backends.js";

const T0 = Date.UTC(2026, 0, 1);

/** The BlockStore contract, run against every adapter. */
export function blockStoreContract(name: string, open: OpenInstances): void {
  describe(`BlockStore contract: ${name}`, () => {
    let inst: Instances;
    let store: BlockStore;
    let scope: TenantScope;

    beforeEach(async () => {
      inst = await open();
      store = inst.a.blocks;
      scope = freshTenantScope();
    });
    afterEach(() => inst.close());

    it("blocks idempotently (the first record stays), sees it either way, within the tenant only", async () => {
      expect(await store.block(scope, { blockerId: "alice", blockedId: "bob", createTimeMs: T0 })).toEqual({ blockerId: "alice", blockedId: "bob", createTimeMs: T0 });
      expect(await inst.b.blocks.block(scope, { blockerId: "alice", blockedId: "bob", createTimeMs: T0 + 5 })).toEqual({ blockerId: "alice", blockedId: "bob", createTimeMs: T0 });
      expect(await inst.b.blocks.between(scope, "alice", "bob")).toBe(true);
      expect(await inst.b.blocks.between(scope, "bob", "alice")).toBe(true);
      expect(await store.between(scope, "alice", "carol")).toBe(false);
      expect(await store.between(freshTenantScope(), "alice", "bob")).toBe(false);
      expect(await store.list(freshTenantScope(), "alice", { limit: 10 })).toEqual([]);
    });

    it("unblocks once", async () => {
      await store.block(scope, { blockerId: "alice", blockedId: "bob", createTimeMs: T0 });
      await store.block(scope, { blockerId: "bob", blockedId: "alice", createTimeMs: T0 });
      expect(await store.unblock(freshTenantScope(), "alice", "bob")).toBe(false);
      expect(await inst.b.blocks.unblock(scope, "alice", "bob")).toBe(true);
      expect(await store.unblock(scope, "alice", "bob")).toBe(false);
      // The other direction still holds.
      expect(await store.between(scope, "alice", "bob")).toBe(true);
      await store.unblock(scope, "bob", "alice");
      expect(await store.between(scope, "alice", "bob")).toBe(false);
    });

    it("lists a blocker's blocks newest first with a keyset (ties by blocked id descending)", async () => {
      await store.block(scope, { blockerId: "alice", blockedId: "bob", createTimeMs: T0 });
      await store.block(scope, { blockerId: "alice", blockedId: "carol", createTimeMs: T0 + 2 });
      await store.block(scope, { blockerId: "alice", blockedId: "dave", createTimeMs: T0 + 2 });
      await store.block(scope, { blockerId: "alice", blockedId: "erin", createTimeMs: T0 + 1 });
      await store.block(scope, { blockerId: "zed", blockedId: "alice", createTimeMs: T0 + 9 });
      const p1 = await store.list(scope, "alice", { limit: 2 });
      expect(p1.map((b) => b.blockedId)).toEqual(["dave", "carol"]);
      const p2 = await inst.b.blocks.list(scope, "alice", { after: { createTimeMs: T0 + 2, blockedId: "carol" }, limit: 5 });
      expect(p2.map((b) => b.blockedId)).toEqual(["erin", "bob"]);
    });

    it("refuses bad arguments", async () => {
      await expect(store.block(scope, { blockerId: "alice", blockedId: "alice", createTimeMs: T0 })).rejects.toThrow(RangeError);
      await expect(store.block(scope, { blockerId: "a|b", blockedId: "bob", createTimeMs: T0 })).rejects.toThrow(RangeError);
      await expect(store.list(scope, "alice", { limit: 1001 })).rejects.toThrow(RangeError);
      await expect(store.between({ tenantId: scope.tenantId } as TenantScope, "a", "b")).rejects.toThrow(TypeError);
    });
  });
}
