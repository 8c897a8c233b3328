import { randomBytes } from "node:crypto";
import { AlreadyExistsError, UnavailableError } from "@caas/shared/errors";
import { isTransientMongoError } from "@caas/shared/mongo";
import { newId } from "@caas/shared/ids";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { freshTenantScope, type OpenTwoInstances, type TwoInstances } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { keyPackagePool, MAX_ONE_TIME_KEY_BYTES, type DeviceRecord, type KeyStore, type OneTimeKey } from "../../src/ports/key-store.js";
import type { CryptoStoreSet } from "../support/backends.js";

const T0 = Date.UTC(2026, 0, 1);
const curve = () => new Uint8Array([5, ...randomBytes(32)]);
const sig = () => new Uint8Array(randomBytes(64));

function device(over: Partial<DeviceRecord> = {}): DeviceRecord {
  return {
    userId: "bob",
    deviceId: 1,
    registrationId: 4242,
    identityKey: curve(),
    generation: newId(),
    signedPreKey: { keyId: 7, publicKey: curve(), signature: sig() },
    kyberPreKey: { keyId: 8, publicKey: new Uint8Array([8, ...randomBytes(1568)]), signature: sig() },
    createTimeMs: T0,
    updateTimeMs: T0,
    ...over,
  };
}

const oneTime = (from: number, n: number): OneTimeKey[] => Array.from({ length: n }, (_, i) => ({ keyId: from + i, publicKey: curve() }));

/** The KeyStore contract, run against every adapter (two handles on one backend, like two crypto processes). */
export function keyStoreContract(name: string, open: OpenTwoInstances<CryptoStoreSet>): void {
  describe(`KeyStore contract: ${name}`, () => {
    let inst: TwoInstances<CryptoStoreSet>;
    let a: KeyStore;
    let b: KeyStore;
    let scope: TenantScope;

    beforeEach(async () => {
      inst = await open();
      a = inst.a.keys;
      b = inst.b.keys;
      scope = freshTenantScope();
    });
    afterEach(() => inst.close());

    it("registers a device that every instance reads back, and refuses a registered device id storing nothing", async () => {
      const d = device();
      await a.createDevice(scope, d, oneTime(1, 3));
      expect(await b.getDevice(scope, "bob", 1)).toEqual(d);
      expect(await b.listDevices(scope, "bob")).toEqual([d]);
      expect(await b.countOneTimeKeys(scope, d)).toBe(3);
      const again = device({ generation: newId() });
      await expect(b.createDevice(scope, again, oneTime(10, 5))).rejects.toBeInstanceOf(AlreadyExistsError);
      expect(await a.getDevice(scope, "bob", 1)).toEqual(d);
      expect(await a.countOneTimeKeys(scope, d)).toBe(3);
      expect(await a.countOneTimeKeys(scope, again)).toBe(0);
      const second = device({ deviceId: 2 });
      await b.createDevice(scope, second, []);
      expect((await a.listDevices(scope, "bob")).map((x) => x.deviceId)).toEqual([1, 2]);
      expect(await a.getDevice(scope, "bob", 3)).toBeUndefined();
      expect(await a.listDevices(scope, "alice")).toEqual([]);
    });

    it("keeps tenants apart: another tenant sees, claims, counts and removes nothing", async () => {
      const d = device();
      await a.createDevice(scope, d, oneTime(1, 2));
      const other = freshTenantScope();
      expect(await b.getDevice(other, "bob", 1)).toBeUndefined();
      expect(await b.listDevices(other, "bob")).toEqual([]);
      expect(await b.claimOneTimeKey(other, d)).toBeUndefined();
      expect(await b.countOneTimeKeys(other, d)).toBe(0);
      expect(await b.removeDevice(other, "bob", 1)).toBeUndefined();
      expect(await b.replaceSignedPreKey(other, d, { signedPreKey: { keyId: 9, publicKey: curve(), signature: sig() }, nowMs: T0, previousExpireTimeMs: T0 })).toBeUndefined();
      // The same user and device id in the other tenant is a device of its own.
      const theirs = device();
      await b.createDevice(other, theirs, oneTime(1, 1));
      expect(await a.getDevice(scope, "bob", 1)).toEqual(d);
      expect(await a.countOneTimeKeys(scope, d)).toBe(2);
      expect((await a.claimOneTimeKey(other, theirs))?.keyId).toBe(1);
      expect(await a.countOneTimeKeys(scope, d)).toBe(2);
    });

    it("hands out one-time keys lowest id first, each once, then none", async () => {
      const d = device();
      const keys = oneTime(100, 3);
      await a.createDevice(scope, d, [keys[2]!, keys[0]!, keys[1]!]);
      expect(await a.claimOneTimeKey(scope, d)).toEqual(keys[0]);
      expect(await b.claimOneTimeKey(scope, d)).toEqual(keys[1]);
      expect(await a.countOneTimeKeys(scope, d)).toBe(1);
      expect(await b.claimOneTimeKey(scope, d)).toEqual(keys[2]);
      expect(await a.claimOneTimeKey(scope, d)).toBeUndefined();
      expect(await b.countOneTimeKeys(scope, d)).toBe(0);
    });

    it("refuses a batch naming an id uploaded before (stored or claimed), storing none of it", async () => {
      const d = device();
      await a.createDevice(scope, d, oneTime(1, 2));
      expect((await a.claimOneTimeKey(scope, d))?.keyId).toBe(1);
      await expect(b.addOneTimeKeys(scope, d, oneTime(1, 1))).rejects.toBeInstanceOf(AlreadyExistsError);
      await expect(b.addOneTimeKeys(scope, d, [...oneTime(50, 3), ...oneTime(2, 1)])).rejects.toBeInstanceOf(AlreadyExistsError);
      expect(await a.countOneTimeKeys(scope, d)).toBe(1);
      await b.addOneTimeKeys(scope, d, oneTime(50, 3));
      expect(await a.countOneTimeKeys(scope, d)).toBe(4);
      await expect(a.addOneTimeKeys(scope, d, [...oneTime(60, 1), ...oneTime(60, 1)])).rejects.toBeInstanceOf(RangeError);
      await expect(a.addOneTimeKeys(scope, d, oneTime(1000, 101))).rejects.toBeInstanceOf(RangeError);
      expect(await a.countOneTimeKeys(scope, d)).toBe(4);
    });

    it("replaces the signed prekey keeping the previous one with its expiry, on the current registration only", async () => {
      const d = device();
      await a.createDevice(scope, d, []);
      const next = { keyId: 11, publicKey: curve(), signature: sig() };
      const kyber = { keyId: 12, publicKey: new Uint8Array([8, ...randomBytes(1568)]), signature: sig() };
      const updated = await b.replaceSignedPreKey(scope, d, { signedPreKey: next, kyberPreKey: kyber, nowMs: T0 + 5, previousExpireTimeMs: T0 + 100 });
      expect(updated).toEqual({ ...d, signedPreKey: next, kyberPreKey: kyber, previousSignedPreKey: { ...d.signedPreKey, expireTimeMs: T0 + 100 }, updateTimeMs: T0 + 5 });
      expect(await a.getDevice(scope, "bob", 1)).toEqual(updated);
      const third = { keyId: 13, publicKey: curve(), signature: sig() };
      const again = await a.replaceSignedPreKey(scope, d, { signedPreKey: third, nowMs: T0 + 6, previousExpireTimeMs: T0 + 200 });
      expect(again?.previousSignedPreKey).toEqual({ ...next, expireTimeMs: T0 + 200 });
      expect(again?.kyberPreKey).toEqual(kyber);
      expect(await a.replaceSignedPreKey(scope, { ...d, generation: newId() }, { signedPreKey: third, nowMs: T0, previousExpireTimeMs: T0 })).toBeUndefined();
    });

    it("removes a device with its keys; a new registration of the id never gets the old keys", async () => {
      const d = device();
      await a.createDevice(scope, d, oneTime(1, 3));
      expect(await b.removeDevice(scope, "bob", 1)).toEqual(d);
      expect(await a.getDevice(scope, "bob", 1)).toBeUndefined();
      expect(await a.claimOneTimeKey(scope, d)).toBeUndefined();
      expect(await a.removeDevice(scope, "bob", 1)).toBeUndefined();
      const fresh = device({ generation: newId() });
      const keys = oneTime(1, 2);
      await b.createDevice(scope, fresh, keys);
      expect(await a.claimOneTimeKey(scope, d)).toBeUndefined();
      expect(await a.claimOneTimeKey(scope, fresh)).toEqual(keys[0]);
      expect(await a.countOneTimeKeys(scope, fresh)).toBe(1);
    });

    it("keeps a registration's KeyPackage pool apart from its one-time prekeys, claims each once across instances, and drops both with the device", async () => {
      const d = device();
      await a.createDevice(scope, d, oneTime(1, 2));
      const pool = keyPackagePool(d);
      const packages = Array.from({ length: 40 }, (_, i) => ({ keyId: i + 1, publicKey: new Uint8Array(randomBytes(i === 0 ? MAX_ONE_TIME_KEY_BYTES : 300)) }));
      await b.addOneTimeKeys(scope, pool, packages);
      await expect(a.addOneTimeKeys(scope, pool, [{ keyId: 40, publicKey: new Uint8Array(10) }])).rejects.toBeInstanceOf(AlreadyExistsError);
      await expect(a.addOneTimeKeys(scope, pool, [{ keyId: 41, publicKey: new Uint8Array(MAX_ONE_TIME_KEY_BYTES + 1) }])).rejects.toBeInstanceOf(RangeError);
      expect([await a.countOneTimeKeys(scope, d), await a.countOneTimeKeys(scope, pool)]).toEqual([2, 40]);
      // Transient refusals (FerretDB's write lock under load) are retried, as in the test below.
      const claim = async (store: KeyStore): Promise<OneTimeKey | undefined> => {
        for (;;) {
          try {
            return await store.claimOneTimeKey(scope, pool);
          } catch (err) {
            if (!(err instanceof UnavailableError || isTransientMongoError(err))) throw err;
          }
        }
      };
      const claims = await Promise.all(Array.from({ length: 50 }, (_, i) => claim(i % 2 === 0 ? a : b)));
      const got = claims.filter((k): k is OneTimeKey => k !== undefined);
      expect(new Set(got.map((k) => k.keyId)).size).toBe(40);
      expect(got).toHaveLength(40);
      expect(got.find((k) => k.keyId === 1)?.publicKey).toEqual(packages[0]!.publicKey);
      // The prekeys are untouched; the other tenant sees no pool.
      expect(await a.countOneTimeKeys(scope, d)).toBe(2);
      expect(await a.countOneTimeKeys(freshTenantScope(), pool)).toBe(0);
      await b.addOneTimeKeys(scope, pool, [{ keyId: 100, publicKey: new Uint8Array(5) }]);
      await a.removeDevice(scope, "bob", 1);
      expect(await b.claimOneTimeKey(scope, pool)).toBeUndefined();
      expect(await b.countOneTimeKeys(scope, pool)).toBe(0);
    });

    it("hands every key out at most once to concurrent claimers on two instances", async () => {
      const d = device();
      const keys = [...oneTime(1, 100), ...oneTime(101, 20)];
      await a.createDevice(scope, d, keys.slice(0, 100));
      await b.addOneTimeKeys(scope, d, keys.slice(100));
      // A claim refused as transient (FerretDB's SQLite backend gives up its write lock under this
      // load: UNAVAILABLE through the platform's guarded connection, the driver's error on the
      // bare one used here) is retried, as a client does.
      const claim = async (store: KeyStore): Promise<OneTimeKey | undefined> => {
        for (;;) {
          try {
            return await store.claimOneTimeKey(scope, d);
          } catch (err) {
            if (!(err instanceof UnavailableError || isTransientMongoError(err))) throw err;
          }
        }
      };
      const claims = await Promise.all(Array.from({ length: 150 }, (_, i) => claim(i % 2 === 0 ? a : b)));
      const got = claims.filter((k): k is OneTimeKey => k !== undefined);
      expect(got).toHaveLength(120);
      expect(new Set(got.map((k) => k.keyId)).size).toBe(120);
      const byId = new Map(keys.map((k) => [k.keyId, k]));
      for (const k of got) expect(k).toEqual(byId.get(k.keyId));
      expect(claims.filter((k) => k === undefined)).toHaveLength(30);
      expect(await a.countOneTimeKeys(scope, d)).toBe(0);
    });
  });
}
