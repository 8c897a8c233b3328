import { randomBytes } from "node:crypto";
import { AlreadyExistsError } from "@caas/shared/errors";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SigningKeyRecord } from "../../src/ports/signing-key-store.js";
import type { Instances, OpenInstances } from "../support/backends.js";

function signingKey(kid: string, activateTimeMs: number): SigningKeyRecord {
  return {
    kid,
    alg: "EdDSA",
    publicJwk: JSON.stringify({ kty: "OKP", crv: "Ed25519", x: randomBytes(32).toString("base64url") }),
    encryptedPrivateKey: new Uint8Array(randomBytes(80)),
    createTimeMs: 1000,
    activateTimeMs,
  };
}

/**
 * The SigningKeyStore contract, run against every adapter. Signing keys are platform-wide (every
 * tenant's tokens are signed with the current key), so this suite has no tenant dimension.
 */
export function signingKeyStoreContract(name: string, open: OpenInstances): void {
  describe(`SigningKeyStore contract: ${name}`, () => {
    let s: Instances;
    beforeEach(async () => {
      s = await open();
    });
    afterEach(async () => {
      await s.close();
    });

    it("stores keys byte for byte and lists them by activation time for every instance", async () => {
      const later = signingKey("kid-b", 5000);
      const earlier = signingKey("kid-a", 1000);
      const tie = signingKey("kid-0", 5000);
      await s.a.signingKeys.insert(later);
      await s.a.signingKeys.insert(earlier);
      await s.b.signingKeys.insert(tie);
      const listed = await s.b.signingKeys.list();
      expect(listed).toEqual([earlier, tie, later]);
      expect(listed[0]!.encryptedPrivateKey).toBeInstanceOf(Uint8Array);
      await expect(s.b.signingKeys.insert({ ...earlier, activateTimeMs: 9 })).rejects.toBeInstanceOf(AlreadyExistsError);
    });

    it("deletes keys idempotently, ignoring unknown kids", async () => {
      for (const [kid, t] of [
        ["k1", 1],
        ["k2", 2],
        ["k3", 3],
      ] as const)
        await s.a.signingKeys.insert(signingKey(kid, t));
      await s.b.signingKeys.delete(["k1", "k3", "nope"]);
      await s.b.signingKeys.delete(["k1"]);
      await s.b.signingKeys.delete([]);
      expect((await s.a.signingKeys.list()).map((k) => k.kid)).toEqual(["k2"]);
    });

    it("refuses bad records", async () => {
      await expect(s.a.signingKeys.insert({ ...signingKey("", 1) })).rejects.toThrow(RangeError);
      await expect(s.a.signingKeys.insert({ ...signingKey("k", 1), encryptedPrivateKey: new Uint8Array() })).rejects.toThrow(RangeError);
      expect(await s.a.signingKeys.list()).toEqual([]);
    });
  });
}
