import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EncryptedContentSchema } from "@caas/gen/caas/chat/v1/encrypted_pb.js";
import { InvalidArgumentError } from "@caas/shared/errors";
import { checkBody, checkEncrypted, checkEncryptedReaction, encryptedDigest, MAX_ENVELOPE_BYTES_TOTAL } from "../src/domain/encrypted.js";
import { directKey, directPair, directPeer } from "../src/domain/rules.js";

const envelopes = (sizes: number[], userId = "bob") =>
  create(EncryptedContentSchema, { scheme: { case: "deviceEnvelopes", value: { envelopes: sizes.map((n, i) => ({ userId, deviceId: i + 1, type: 3, ciphertext: new Uint8Array(n).fill(i + 1) })) } } });

/** The field an INVALID_ARGUMENT names. */
function fieldOf(f: () => void): string | undefined {
  try {
    f();
  } catch (err) {
    if (err instanceof InvalidArgumentError) return err.violations[0]?.field;
    throw err;
  }
  return undefined;
}

describe("end-to-end encrypted bodies", () => {
  it("need ciphertext and nothing in plaintext in an encrypted conversation, and no ciphertext elsewhere", () => {
    const body = { text: "", custom: undefined, attachments: 0, encrypted: envelopes([10]) };
    expect(fieldOf(() => checkBody(true, body))).toBeUndefined();
    expect(fieldOf(() => checkBody(true, { ...body, text: "hi" }))).toBe("text");
    expect(fieldOf(() => checkBody(true, { ...body, custom: { a: 1 } }))).toBe("custom");
    expect(fieldOf(() => checkBody(true, { ...body, attachments: 1 }))).toBe("attachments");
    expect(fieldOf(() => checkBody(true, { ...body, encrypted: undefined }))).toBe("encrypted");
    expect(fieldOf(() => checkBody(false, body))).toBe("encrypted");
    expect(fieldOf(() => checkBody(false, { ...body, text: "hi", encrypted: undefined }))).toBeUndefined();
  });

  it("bound envelope sizes and refuse a device twice", () => {
    expect(fieldOf(() => checkEncrypted(envelopes([65_536, 65_536, 65_536, 65_536])))).toBeUndefined();
    expect(fieldOf(() => checkEncrypted(envelopes([65_536, 65_536, 65_536, 65_536, 1])))).toBe("encrypted.device_envelopes");
    expect(MAX_ENVELOPE_BYTES_TOTAL).toBe(4 * 65_536);
    expect(fieldOf(() => checkEncrypted(envelopes([65_537])))).toBe("encrypted.device_envelopes.envelopes[0].ciphertext");
    expect(fieldOf(() => checkEncrypted(envelopes([0])))).toBe("encrypted.device_envelopes.envelopes[0].ciphertext");
    expect(fieldOf(() => checkEncrypted(envelopes([1], "bad id")))).toBe("encrypted.device_envelopes.envelopes[0].user_id");
    const twice = envelopes([1, 1]);
    if (twice.scheme.case === "deviceEnvelopes") twice.scheme.value.envelopes[1]!.deviceId = 1;
    expect(fieldOf(() => checkEncrypted(twice))).toBe("encrypted.device_envelopes.envelopes[1].device_id");
    expect(fieldOf(() => checkEncrypted(create(EncryptedContentSchema, {})))).toBe("encrypted");
    expect(fieldOf(() => checkEncrypted(create(EncryptedContentSchema, { scheme: { case: "mlsMessage", value: new Uint8Array(65_537) } })))).toBe("encrypted.mls_message");
  });

  it("digest the ciphertext for idempotent retries", () => {
    expect(encryptedDigest(envelopes([5, 6]))).toBe(encryptedDigest(envelopes([5, 6])));
    expect(encryptedDigest(envelopes([5, 6]))).not.toBe(encryptedDigest(envelopes([5, 7])));
    expect(encryptedDigest(undefined)).toBeNull();
  });

  it("allow emoji reactions only", () => {
    for (const ok of ["👍", "👍🏽", "❤️", "🇩🇪", "1️⃣", "👨‍👩‍👧"]) expect(fieldOf(() => checkEncryptedReaction(ok))).toBeUndefined();
    for (const bad of ["lol", ":thumbsup:", "a👍", "1", "ok ✅"]) expect(fieldOf(() => checkEncryptedReaction(bad))).toBe("reaction");
  });

  it("give a pair an encrypted DIRECT key of its own, with the same two users", () => {
    expect(directKey("bob", "ann", true)).toBe("ann|bob|e2ee");
    expect(directPair("ann|bob|e2ee")).toEqual(["ann", "bob"]);
    expect(directPeer("ann|bob|e2ee", "bob")).toBe("ann");
    expect(directPeer("ann|bob", "ann")).toBe("bob");
  });
});
