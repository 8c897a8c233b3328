import { KEMKeyPair, PrivateKey } from "@signalapp/libsignal-client";
import { describe, expect, it } from "vitest";
import { verifyXEdDsa } from "../src/domain/xeddsa.js";

/** The 32 key bytes of a libsignal serialized Curve25519 public key (after its 0x05 type byte). */
const keyBytes = (k: PrivateKey) => k.getPublicKey().serialize().subarray(1);

describe("XEdDSA verification (signatures made by libsignal, the clients' library)", () => {
  it("accepts libsignal's signatures of signed prekeys, Curve25519 and Kyber, over many keys", () => {
    for (let i = 0; i < 40; i++) {
      const identity = PrivateKey.generate();
      const signedPreKey = PrivateKey.generate().getPublicKey().serialize();
      expect(verifyXEdDsa(keyBytes(identity), signedPreKey, identity.sign(signedPreKey))).toBe(true);
      if (i % 10 === 0) {
        const kyber = KEMKeyPair.generate().getPublicKey().serialize();
        expect(verifyXEdDsa(keyBytes(identity), kyber, identity.sign(kyber))).toBe(true);
      }
    }
  });

  it("refuses a signature by another key, over other bytes, or altered in any byte", () => {
    const identity = PrivateKey.generate();
    const other = PrivateKey.generate();
    const message = PrivateKey.generate().getPublicKey().serialize();
    const signature = identity.sign(message);
    expect(verifyXEdDsa(keyBytes(other), message, signature)).toBe(false);
    const altered = Uint8Array.from(message);
    altered[5] = altered[5]! ^ 1;
    expect(verifyXEdDsa(keyBytes(identity), altered, signature)).toBe(false);
    for (let i = 0; i < 64; i++) {
      const bad = Uint8Array.from(signature);
      bad[i] = bad[i]! ^ 0x01;
      expect(verifyXEdDsa(keyBytes(identity), message, bad)).toBe(false);
    }
    // The sign bit (the top bit of the last byte) chooses the Edwards point: flipping it fails.
    const flipped = Uint8Array.from(signature);
    flipped[63] = flipped[63]! ^ 0x80;
    expect(verifyXEdDsa(keyBytes(identity), message, flipped)).toBe(false);
  });

  it("refuses malformed inputs without throwing", () => {
    const identity = PrivateKey.generate();
    const message = new Uint8Array([1, 2, 3]);
    const signature = identity.sign(message);
    expect(verifyXEdDsa(keyBytes(identity).subarray(1), message, signature)).toBe(false);
    expect(verifyXEdDsa(keyBytes(identity), message, signature.subarray(1))).toBe(false);
    expect(verifyXEdDsa(new Uint8Array(32).fill(0xff), message, signature)).toBe(false);
    expect(verifyXEdDsa(new Uint8Array(32), message, new Uint8Array(64))).toBe(false);
  });
});
