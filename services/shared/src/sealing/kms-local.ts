import { createHash } from "node:crypto";
import type { Kms } from "./kms.js";
import { open, seal } from "./sealed-box.js";

/**
 * The local KMS: the KEK is 32 bytes held in this process (from configuration or a key file), and
 * wrapping is AES-256-GCM under it with the context as additional data. Every process given the
 * same KEK unwraps what any of them wrapped. Protects stored data keys as well as the KEK is kept
 * apart from the stores (ADR 0120).
 */
export function createLocalKms(kek: Uint8Array): Kms {
  if (kek.length !== 32) throw new Error("the key-encryption key must be 32 bytes");
  const kekId = `kek-${createHash("sha256").update("caas kek id\n").update(kek).digest("hex").slice(0, 16)}`;
  const key = { id: kekId, bytes: Uint8Array.from(kek) };
  return {
    kekId,
    wrapKey: async (dataKey, context) => seal(key, dataKey, context),
    unwrapKey: async (wrapped, context) => open(key, wrapped, context),
  };
}
