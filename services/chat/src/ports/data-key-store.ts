/** One data key of a tenant as stored: wrapped by the KMS's key-encryption key, never in the clear. */
export interface StoredDataKey {
  tenantId: string;
  /** Stored beside every ciphertext the key made (1-64 characters of [A-Za-z0-9_-]). */
  keyId: string;
  /** 1 for a tenant's first key, +1 per rotation: the highest is the current key. */
  generation: number;
  /** The key wrapped by the KEK (Kms.wrapKey, context `data-key|<tenant>|<keyId>`). */
  wrapped: Uint8Array;
  /** Which KEK wrapped it. */
  kekId: string;
  createTimeMs: number;
}

/** A tenant's latest re-encryption run (after a rotation) as stored, so it survives a restart. */
export interface StoredReencryption {
  tenantId: string;
  /** The key the run re-seals under. */
  keyId: string;
  state: "running" | "done" | "failed";
  scanned: number;
  resealed: number;
  unreadable: number;
  /** Where the run goes on from: its own opaque position (JSON text; "" at the start). */
  cursor: string;
  startMs: number;
  /** 0 while running. */
  endMs: number;
  /** Why it failed ("" otherwise). */
  error: string;
}

/**
 * The per-tenant data keys of encryption at rest (ADR 0120). Keys are only ever added or
 * destroyed, never changed. Every method is scoped by the tenant id it names; one tenant never
 * sees another's keys.
 */
export interface DataKeyStore {
  /** The tenant's key with the highest generation; undefined when it has none (none made yet, or all destroyed). */
  current(tenantId: string): Promise<StoredDataKey | undefined>;
  /** One key by id; undefined when the tenant has no such key. */
  get(tenantId: string, keyId: string): Promise<StoredDataKey | undefined>;
  /**
   * Adds a key. False (nothing stored) when the tenant already has a key of that generation:
   * another instance made the tenant's first key or rotated at the same moment; read `current`.
   */
  insert(key: StoredDataKey): Promise<boolean>;
  /**
   * Crypto-shredding: destroys every key of the tenant (the stored bytes are overwritten, then
   * removed) and returns how many there were. Idempotent. A later write of the tenant makes a new
   * first key; nothing written before can be read with it.
   */
  destroyAll(tenantId: string): Promise<number>;
  /** Stores the tenant's latest re-encryption run, replacing the one stored before (one per tenant). */
  saveRun(run: StoredReencryption): Promise<void>;
  /** The tenant's latest re-encryption run; undefined when it never had one. */
  run(tenantId: string): Promise<StoredReencryption | undefined>;
  /** Up to `limit` runs still RUNNING, of every tenant (resumed when chat starts). */
  runningRuns(limit: number): Promise<StoredReencryption[]>;
  close(): Promise<void>;
}
