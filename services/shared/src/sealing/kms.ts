/**
 * Key management: wraps and unwraps data keys with a key-encryption key (KEK) the KMS holds and
 * never hands out. Data keys are stored only wrapped; a data key is unwrapped when a process first
 * needs it and cached in memory (ADR 0120).
 */
export interface Kms {
  /** Identifies the KEK: stored beside each wrapped key, so a rotated KEK can tell which it wrapped. */
  readonly kekId: string;
  /**
   * Wraps a data key. `context` (e.g. tenant and key id) is bound to the result: unwrapping with
   * another context fails, so a wrapped key copied to another tenant's record is useless.
   */
  wrapKey(dataKey: Uint8Array, context: string): Promise<Uint8Array>;
  /** Unwraps what `wrapKey` made with the same context; rejects when it was altered or wrapped by another KEK. */
  unwrapKey(wrapped: Uint8Array, context: string): Promise<Uint8Array>;
}
