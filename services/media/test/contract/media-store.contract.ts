import { AlreadyExistsError } from "@caas/shared/errors";
import { newId } from "@caas/shared/ids";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { freshTenantScope, type OpenTwoInstances, type TwoInstances } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { MediaRecord, MediaStore } from "../../src/ports/media-store.js";

const T0 = Date.UTC(2026, 0, 1);

function pending(over: Partial<MediaRecord> = {}): MediaRecord {
  return {
    id: newId(),
    ownerId: "alice",
    name: "cat.png",
    mimeType: "image/png",
    maxBytes: 1000,
    sizeBytes: 0,
    state: "pending",
    createTimeMs: T0,
    readyTimeMs: 0,
    deleteTimeMs: 0,
    blobKey: "",
    ...over,
  };
}

/** The MediaStore contract, run against every adapter (two handles on one backend, like two media processes). */
export function mediaStoreContract(name: string, open: OpenTwoInstances<MediaStore>): void {
  describe(`MediaStore contract: ${name}`, () => {
    let inst: TwoInstances<MediaStore>;
    let store: MediaStore;
    let scope: TenantScope;

    beforeEach(async () => {
      inst = await open();
      store = inst.a;
      scope = freshTenantScope();
    });
    afterEach(() => inst.close());

    it("creates a pending record that every instance reads back, and refuses a reused id", async () => {
      const r = pending();
      await store.create(scope, r);
      expect(await inst.b.get(scope, r.id)).toEqual(r);
      await expect(inst.b.create(scope, pending({ id: r.id, name: "other" }))).rejects.toBeInstanceOf(AlreadyExistsError);
      expect(await store.get(scope, r.id)).toEqual(r);
      expect(await store.get(scope, newId())).toBeUndefined();
    });

    it("keeps tenants apart: another tenant neither reads, readies, deletes nor links a record", async () => {
      const r = pending();
      const other = freshTenantScope();
      await store.create(scope, r);
      expect(await store.get(other, r.id)).toBeUndefined();
      expect(await store.getMany(other, [r.id])).toEqual([]);
      expect(await store.markReady(other, r.id, { sizeBytes: 5, readyTimeMs: T0 + 1, blobKey: "ready/x" })).toBeUndefined();
      expect(await store.markDeleted(other, r.id, T0 + 1)).toBe(false);
      // The same id may exist in another tenant as an unrelated record.
      await inst.b.create(other, pending({ id: r.id, ownerId: "mallory" }));
      expect((await store.get(other, r.id))?.ownerId).toBe("mallory");
      const conversation = newId();
      await store.link(other, conversation, [r.id], T0);
      expect(await store.linkedTo(scope, conversation, [r.id])).toEqual(new Set());
      expect(await store.linkedConversations(scope, r.id, { limit: 10 })).toEqual([]);
      expect(await store.get(scope, r.id)).toEqual(r);
    });

    it("lists a user's records by id in pages, tombstones included, and no other owner's or tenant's", async () => {
      const mine = [pending(), pending(), pending()].sort((a, b) => a.id.localeCompare(b.id));
      for (const r of mine) await store.create(scope, r);
      await store.markDeleted(scope, mine[1]!.id, T0 + 1);
      await store.create(scope, pending({ ownerId: "bob" }));
      const other = freshTenantScope();
      await store.create(other, pending());
      const first = await inst.b.ofOwner(scope, "alice", { limit: 2 });
      expect(first.map((r) => r.id)).toEqual([mine[0]!.id, mine[1]!.id]);
      expect(first[1]!.deleteTimeMs).toBe(T0 + 1);
      expect((await inst.b.ofOwner(scope, "alice", { after: first[1]!.id, limit: 2 })).map((r) => r.id)).toEqual([mine[2]!.id]);
      expect((await store.ofOwner(other, "alice", { limit: 10 })).length).toBe(1);
      expect(await store.ofOwner(scope, "nobody", { limit: 10 })).toEqual([]);
    });

    it("lists a tenant's records of every owner and state, at most the limit, and no other tenant's", async () => {
      const mine = [pending(), pending({ ownerId: "bob" }), pending({ ownerId: "cyd" })];
      for (const r of mine) await store.create(scope, r);
      await store.markDeleted(scope, mine[2]!.id, T0 + 1);
      const other = freshTenantScope();
      await store.create(other, pending());
      expect((await inst.b.ofTenant(scope, 2)).length).toBe(2);
      expect((await store.ofTenant(scope, 10)).map((r) => r.id).sort()).toEqual(mine.map((r) => r.id).sort());
      expect((await store.ofTenant(other, 10)).map((r) => r.ownerId)).toEqual(["alice"]);
      expect(await store.ofTenant(freshTenantScope(), 10)).toEqual([]);
    });

    it("removes a record and its links for good, idempotently, and never another tenant's", async () => {
      const r = pending();
      const kept = pending();
      const other = freshTenantScope();
      await store.create(scope, r);
      await store.create(scope, kept);
      await store.create(other, pending({ id: r.id }));
      const conversation = newId();
      await store.link(scope, conversation, [r.id, kept.id], T0);
      await store.markDeleted(scope, r.id, T0 + 1);
      expect(await inst.b.remove(scope, r.id)).toBe(true);
      expect(await store.remove(scope, r.id)).toBe(false);
      expect(await store.get(scope, r.id)).toBeUndefined();
      expect(await store.linkedTo(scope, conversation, [r.id, kept.id])).toEqual(new Set([kept.id]));
      expect(await store.ofOwner(scope, "alice", { limit: 10 })).toEqual([kept]);
      expect(await store.get(other, r.id)).toBeDefined();
    });

    it("makes a pending record ready once: the first size and time stay", async () => {
      const r = pending();
      await store.create(scope, r);
      const ready = await inst.b.markReady(scope, r.id, { sizeBytes: 700, readyTimeMs: T0 + 5, blobKey: `ready/${r.id}/e1` });
      expect(ready).toEqual({ ...r, state: "ready", sizeBytes: 700, readyTimeMs: T0 + 5, blobKey: `ready/${r.id}/e1` });
      expect(await store.markReady(scope, r.id, { sizeBytes: 1, readyTimeMs: T0 + 9, blobKey: `ready/${r.id}/e2` })).toEqual(ready);
      expect(await store.markReady(scope, newId(), { sizeBytes: 1, readyTimeMs: T0, blobKey: "ready/x" })).toBeUndefined();
    });

    it("turns a record into a tombstone once, which is never made ready", async () => {
      const r = pending();
      await store.create(scope, r);
      expect(await store.markDeleted(scope, r.id, T0 + 3)).toBe(true);
      expect(await inst.b.markDeleted(scope, r.id, T0 + 8)).toBe(true);
      expect(await store.get(scope, r.id)).toEqual({ ...r, deleteTimeMs: T0 + 3 });
      expect(await store.markReady(scope, r.id, { sizeBytes: 5, readyTimeMs: T0 + 9, blobKey: "ready/x" })).toEqual({ ...r, deleteTimeMs: T0 + 3 });
      expect(await store.markDeleted(scope, newId(), T0)).toBe(false);
    });

    it("reads many at once, tombstones included, unknown ids left out", async () => {
      const a = pending();
      const b = pending({ ownerId: "bob" });
      await store.create(scope, a);
      await store.create(scope, b);
      await store.markDeleted(scope, b.id, T0 + 1);
      const found = await inst.b.getMany(scope, [b.id, newId(), a.id]);
      expect(found.sort((x, y) => x.id.localeCompare(y.id))).toEqual([a, { ...b, deleteTimeMs: T0 + 1 }].sort((x, y) => x.id.localeCompare(y.id)));
      expect(await store.getMany(scope, [])).toEqual([]);
    });

    it("links media to conversations idempotently and pages a media's conversations by id", async () => {
      const m1 = newId();
      const m2 = newId();
      const convs = Array.from({ length: 5 }, () => newId()).sort();
      await store.link(scope, convs[2]!, [m1, m2], T0);
      await inst.b.link(scope, convs[2]!, [m1], T0 + 1);
      for (const c of [convs[4]!, convs[0]!, convs[3]!]) await store.link(scope, c, [m1], T0 + 2);
      expect(await store.linkedTo(scope, convs[2]!, [m1, m2, newId()])).toEqual(new Set([m1, m2]));
      expect(await store.linkedTo(scope, convs[1]!, [m1, m2])).toEqual(new Set());
      expect(await inst.b.linkedConversations(scope, m1, { limit: 2 })).toEqual([convs[0], convs[2]]);
      expect(await inst.b.linkedConversations(scope, m1, { after: convs[2]!, limit: 10 })).toEqual([convs[3], convs[4]]);
      expect(await store.linkedConversations(scope, m2, { limit: 10 })).toEqual([convs[2]]);

      // Unlinking removes only the named links, idempotently, and only in this tenant.
      await store.unlink(freshTenantScope(), convs[2]!, [m1]);
      expect(await store.linkedTo(scope, convs[2]!, [m1, m2])).toEqual(new Set([m1, m2]));
      await inst.b.unlink(scope, convs[2]!, [m1, newId()]);
      await store.unlink(scope, convs[2]!, [m1]);
      expect(await store.linkedTo(scope, convs[2]!, [m1, m2])).toEqual(new Set([m2]));
      expect(await store.linkedConversations(scope, m1, { limit: 10 })).toEqual([convs[0], convs[3], convs[4]]);
      await store.unlink(scope, convs[2]!, []);
    });

    it("lists open uploads across tenants, oldest first, in bounded batches; removes abandoned ones once and closes the rest", async () => {
      // A fresh clock range per run: the backend may hold other tests' records.
      const base = T0 - 10 * 365 * 86_400_000 - Math.floor(Math.random() * 1e9);
      const other = freshTenantScope();
      const old1 = pending({ createTimeMs: base + 1 });
      const old2 = pending({ createTimeMs: base + 2 });
      const oldReady = pending({ createTimeMs: base + 3 });
      const oldDeleted = pending({ createTimeMs: base + 4 });
      const fresh = pending({ createTimeMs: base + 100 });
      await store.create(scope, old1);
      await inst.b.create(other, old2);
      await store.create(scope, oldReady);
      await store.create(other, oldDeleted);
      await store.create(scope, fresh);
      await store.markReady(scope, oldReady.id, { sizeBytes: 1, readyTimeMs: base + 5, blobKey: `ready/${oldReady.id}/e` });
      await store.markDeleted(other, oldDeleted.id, base + 6);
      const cutoff = base + 50;
      const ours = (list: { tenantId: string; record: { id: string } }[]) => list.map((u) => `${u.tenantId}:${u.record.id}`);

      const first = await inst.b.uploadsToSweep({ createdBefore: cutoff, limit: 3 });
      expect(ours(first)).toEqual([`${scope.tenantId}:${old1.id}`, `${other.tenantId}:${old2.id}`, `${scope.tenantId}:${oldReady.id}`]);
      expect(first[0]!.record).toEqual(old1);
      expect(first[2]!.record).toMatchObject({ state: "ready", blobKey: `ready/${oldReady.id}/e` });
      expect(ours(await store.uploadsToSweep({ createdBefore: cutoff, limit: 10 }))).toHaveLength(4);

      // Abandoned: removed once, by whichever instance comes first; only live pending records older than the cutoff.
      expect(await store.removeAbandoned(scope, old1.id, cutoff)).toBe(true);
      expect(await inst.b.removeAbandoned(scope, old1.id, cutoff)).toBe(false);
      expect(await store.get(scope, old1.id)).toBeUndefined();
      expect(await store.removeAbandoned(scope, old2.id, cutoff)).toBe(false); // another tenant's
      expect(await store.removeAbandoned(other, old2.id, base + 2)).toBe(false); // not older than the cutoff
      expect(await store.removeAbandoned(scope, oldReady.id, cutoff)).toBe(false);
      expect(await store.removeAbandoned(other, oldDeleted.id, cutoff)).toBe(false);
      expect(await store.removeAbandoned(scope, fresh.id, cutoff)).toBe(false);
      expect(await store.get(scope, oldReady.id)).toMatchObject({ state: "ready" });
      expect(await store.get(other, oldDeleted.id)).toMatchObject({ deleteTimeMs: base + 6 });

      // Closed uploads leave the list, idempotently and per tenant.
      await store.closeUpload(other, oldReady.id); // another tenant's: nothing happens
      await store.closeUpload(scope, oldReady.id);
      await inst.b.closeUpload(scope, oldReady.id);
      await store.closeUpload(other, oldDeleted.id);
      await store.closeUpload(scope, newId());
      expect(ours(await inst.b.uploadsToSweep({ createdBefore: cutoff, limit: 10 }))).toEqual([`${other.tenantId}:${old2.id}`]);
      expect(await store.get(scope, oldReady.id)).toMatchObject({ state: "ready", sizeBytes: 1 });
      expect(ours(await store.uploadsToSweep({ createdBefore: base + 101, limit: 10 }))).toEqual([`${other.tenantId}:${old2.id}`, `${scope.tenantId}:${fresh.id}`]);
    });

    it("refuses bad arguments", async () => {
      await expect(store.create(scope, pending({ state: "ready" }))).rejects.toThrow(RangeError);
      await expect(store.create(scope, pending({ id: "a|b" }))).rejects.toThrow(RangeError);
      await expect(store.create(scope, pending({ maxBytes: 0 }))).rejects.toThrow(RangeError);
      await expect(store.create({ tenantId: "t" } as unknown as TenantScope, pending())).rejects.toThrow(TypeError);
      await expect(
        store.getMany(
          scope,
          Array.from({ length: 101 }, () => newId()),
        ),
      ).rejects.toThrow(RangeError);
      await expect(store.link(scope, newId(), ["x", "x"], T0)).rejects.toThrow(RangeError);
      await expect(store.linkedConversations(scope, newId(), { limit: 101 })).rejects.toThrow(RangeError);
      await expect(store.markReady(scope, newId(), { sizeBytes: -1, readyTimeMs: T0, blobKey: "ready/x" })).rejects.toThrow(RangeError);
      await expect(store.markReady(scope, newId(), { sizeBytes: 1, readyTimeMs: T0, blobKey: "" })).rejects.toThrow(RangeError);
      await expect(store.create(scope, pending({ blobKey: "ready/x" }))).rejects.toThrow(RangeError);
      await expect(store.uploadsToSweep({ createdBefore: T0, limit: 0 })).rejects.toThrow(RangeError);
      await expect(store.uploadsToSweep({ createdBefore: T0, limit: 1001 })).rejects.toThrow(RangeError);
      await expect(store.uploadsToSweep({ createdBefore: -1, limit: 10 })).rejects.toThrow(RangeError);
      await expect(store.removeAbandoned({ tenantId: "t" } as unknown as TenantScope, newId(), T0)).rejects.toThrow(TypeError);
      await expect(store.closeUpload(scope, "a|b")).rejects.toThrow(RangeError);
    });
  });
}
