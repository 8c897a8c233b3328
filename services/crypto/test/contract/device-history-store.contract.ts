import { randomBytes } from "node:crypto";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { freshTenantScope, type OpenTwoInstances, type TwoInstances } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DeviceHistoryStore, HistoryEntry } from "../../src/ports/device-history-store.js";
import type { CryptoStoreSet } from "../support/backends.js";

/** An entry whose change bytes name its seq and its predecessor's seq (so the chain is checkable). */
const entry =
  (tag: string) =>
  (seq: number, prev: HistoryEntry | undefined): HistoryEntry => ({
    seq,
    change: new TextEncoder().encode(`${tag}:${seq}:${prev?.seq ?? 0}`),
    signature: new Uint8Array(randomBytes(64)),
    keyId: "k1",
  });

/** The DeviceHistoryStore contract, run against every adapter (two handles on one backend). */
export function deviceHistoryStoreContract(name: string, open: OpenTwoInstances<CryptoStoreSet>): void {
  describe(`DeviceHistoryStore contract: ${name}`, () => {
    let inst: TwoInstances<CryptoStoreSet>;
    let a: DeviceHistoryStore;
    let b: DeviceHistoryStore;
    let scope: TenantScope;

    beforeEach(async () => {
      inst = await open();
      a = inst.a.history;
      b = inst.b.history;
      scope = freshTenantScope();
    });
    afterEach(() => inst.close());

    it("appends consecutive seqs linked to their predecessor, pages them in order, per user and tenant", async () => {
      const first = await a.append(scope, "bob", entry("x"));
      expect(first.seq).toBe(1);
      await b.append(scope, "bob", entry("y"));
      await a.append(scope, "bob", entry("z"));
      await a.append(scope, "bo", entry("other-user"));
      const all = await b.list(scope, "bob", 0, 10);
      expect(all.map((e) => new TextDecoder().decode(e.change))).toEqual(["x:1:0", "y:2:1", "z:3:2"]);
      expect(all[0]).toEqual(first);
      expect((await a.list(scope, "bob", 1, 1)).map((e) => e.seq)).toEqual([2]);
      expect(await a.list(scope, "bob", 3, 10)).toEqual([]);
      expect((await a.list(scope, "bo", 0, 10)).map((e) => e.seq)).toEqual([1]);
      const other = freshTenantScope();
      expect(await b.list(other, "bob", 0, 10)).toEqual([]);
      expect((await b.append(other, "bob", entry("o"))).seq).toBe(1);
      expect(await a.list(scope, "bob", 0, 10)).toHaveLength(3);
    });

    it("never forks the chain under concurrent appends from two instances", async () => {
      await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? a : b).append(scope, "bob", entry(`c${i}`))));
      const all = await a.list(scope, "bob", 0, 100);
      expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      for (const e of all) expect(new TextDecoder().decode(e.change).endsWith(`:${e.seq}:${e.seq - 1}`)).toBe(true);
      expect(new Set(all.map((e) => new TextDecoder().decode(e.change).split(":")[0])).size).toBe(30);
    });

    it("keeps the first signing key stored; every instance gets it", async () => {
      const k1 = { keyId: "one", privateKeyDer: new Uint8Array(randomBytes(48)), publicKey: new Uint8Array(randomBytes(32)) };
      const k2 = { keyId: "two", privateKeyDer: new Uint8Array(randomBytes(48)), publicKey: new Uint8Array(randomBytes(32)) };
      expect(await a.signingKey(k1)).toEqual(k1);
      expect(await b.signingKey(k2)).toEqual(k1);
    });
  });
}
