import { createLocalKms } from "@caas/shared/sealing/kms-local";
import { FakeClock } from "@caas/shared/clock";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MessageKeyring } from "../../src/message-keyring.js";
import type { DataKeyStore, StoredDataKey } from "../../src/ports/data-key-store.js";

/** Two store instances on one backend (two chat processes sharing a database). */
export interface TwoDataKeyStores {
  a: DataKeyStore;
  b: DataKeyStore;
  close(): Promise<void>;
}

const T0 = Date.UTC(2026, 0, 1);
const key = (tenantId: string, keyId: string, generation: number): StoredDataKey => ({
  tenantId,
  keyId,
  generation,
  wrapped: new Uint8Array(60).fill(generation),
  kekId: "kek-test",
  createTimeMs: T0,
});

/** The DataKeyStore contract (and the keyring on top of it), run against every adapter. */
export function dataKeyStoreContract(name: string, open: () => Promise<TwoDataKeyStores>): void {
  describe(`DataKeyStore contract: ${name}`, () => {
    let inst: TwoDataKeyStores;
    let tenant: string;

    beforeEach(async () => {
      inst = await open();
      tenant = freshTenantScope().tenantId;
    });
    afterEach(() => inst.close());

    it("keeps keys per tenant; the highest generation is current; another tenant sees none", async () => {
      expect(await inst.a.current(tenant)).toBeUndefined();
      expect(await inst.a.insert(key(tenant, "k1", 1))).toBe(true);
      expect(await inst.b.insert(key(tenant, "k2", 2))).toBe(true);
      expect(await inst.b.current(tenant)).toEqual(key(tenant, "k2", 2));
      expect(await inst.a.get(tenant, "k1")).toEqual(key(tenant, "k1", 1));
      const other = freshTenantScope().tenantId;
      expect(await inst.a.current(other)).toBeUndefined();
      expect(await inst.a.get(other, "k1")).toBeUndefined();
      expect(await inst.a.destroyAll(other)).toBe(0);
      expect(await inst.a.current(tenant)).toEqual(key(tenant, "k2", 2));
    });

    it("stores one key per generation when two instances race for it", async () => {
      const results = await Promise.all([inst.a.insert(key(tenant, "ka", 1)), inst.b.insert(key(tenant, "kb", 1))]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect((await inst.a.current(tenant))!.keyId).toBe(results[0] ? "ka" : "kb");
    });

    it("destroys every key of the tenant, idempotently", async () => {
      await inst.a.insert(key(tenant, "k1", 1));
      await inst.a.insert(key(tenant, "k2", 2));
      const other = freshTenantScope().tenantId;
      await inst.a.insert(key(other, "k1", 1));
      expect(await inst.b.destroyAll(tenant)).toBe(2);
      expect(await inst.a.current(tenant)).toBeUndefined();
      expect(await inst.a.get(tenant, "k1")).toBeUndefined();
      expect(await inst.a.destroyAll(tenant)).toBe(0);
      expect(await inst.a.get(other, "k1")).toEqual(key(other, "k1", 1));
    });

    it("through the keyring: one first key for concurrent writers on two instances, rotation, shredding", async () => {
      const kms = createLocalKms(new Uint8Array(32).fill(5));
      const clock = new FakeClock(T0);
      const ra = new MessageKeyring({ store: inst.a, kms, clock });
      const rb = new MessageKeyring({ store: inst.b, kms, clock });
      const firsts = await Promise.all([ra.current(tenant), rb.current(tenant), ra.current(tenant), rb.current(tenant)]);
      expect(new Set(firsts.map((k) => k.id)).size).toBe(1);
      expect(firsts[0].bytes).toHaveLength(32);
      // Stored wrapped only.
      const stored = (await inst.a.current(tenant))!;
      expect(Buffer.from(stored.wrapped).includes(Buffer.from(firsts[0].bytes))).toBe(false);
      expect(stored.kekId).toBe(kms.kekId);

      const second = await ra.rotate(tenant);
      expect(second.id).not.toBe(firsts[0].id);
      expect((await ra.current(tenant)).id).toBe(second.id);
      expect((await inst.b.current(tenant))!.generation).toBe(2);
      // The other instance keeps its cached current key for a while, then follows; old keys still open.
      expect((await rb.current(tenant)).id).toBe(firsts[0].id);
      clock.advance(61_000);
      expect((await rb.current(tenant)).id).toBe(second.id);
      expect((await rb.key(tenant, firsts[0].id))!.bytes).toEqual(firsts[0].bytes);
      // Another KEK cannot unwrap them.
      const stranger = new MessageKeyring({ store: inst.a, kms: createLocalKms(new Uint8Array(32).fill(6)), clock });
      await expect(stranger.key(tenant, second.id)).rejects.toThrow();

      expect(await ra.shred(tenant)).toBe(2);
      expect(await ra.key(tenant, second.id)).toBeUndefined();
      clock.advance(61_000);
      expect(await rb.key(tenant, firsts[0].id)).toBeUndefined();
      // A later write gets a new first key; nothing old opens with it.
      expect([firsts[0].id, second.id]).not.toContain((await ra.current(tenant)).id);
    });

    it("keeps one re-encryption run per tenant, replaced on save, and lists the running ones of every tenant", async () => {
      const other = freshTenantScope().tenantId;
      const run = { tenantId: tenant, keyId: "k2", state: "running" as const, scanned: 0, resealed: 0, unreadable: 0, cursor: "", startMs: T0, endMs: 0, error: "" };
      expect(await inst.a.run(tenant)).toBeUndefined();
      await inst.a.saveRun(run);
      await inst.b.saveRun({ ...run, scanned: 500, resealed: 499, cursor: '{"phase":"log","seq":500}' });
      await inst.a.saveRun({ ...run, tenantId: other, keyId: "k9", startMs: T0 + 1 });
      expect(await inst.a.run(tenant)).toEqual({ ...run, scanned: 500, resealed: 499, cursor: '{"phase":"log","seq":500}' });
      const running = (await inst.b.runningRuns(1000)).filter((r) => r.tenantId === tenant || r.tenantId === other);
      expect(running.map((r) => [r.tenantId, r.keyId])).toEqual([
        [tenant, "k2"],
        [other, "k9"],
      ]);
      await inst.b.saveRun({ ...run, state: "done", scanned: 900, endMs: T0 + 5 });
      expect((await inst.a.runningRuns(1000)).map((r) => r.tenantId)).not.toContain(tenant);
      expect(await inst.a.run(tenant)).toMatchObject({ state: "done", scanned: 900, endMs: T0 + 5 });
      expect((await inst.a.run(other))?.keyId).toBe("k9");
    });
  });
}
