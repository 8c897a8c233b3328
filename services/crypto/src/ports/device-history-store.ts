import type { TenantScope } from "@caas/shared/tenant-scope";

/** One signed entry of a user's device-list history. */
export interface HistoryEntry {
  /** 1 for the user's first change, then consecutive. */
  seq: number;
  /** The serialized caas.crypto.v1.DeviceListChange. */
  change: Uint8Array;
  /** Ed25519 signature over `change`. */
  signature: Uint8Array;
  /** The directory signing key's id. */
  keyId: string;
}

/** The directory's Ed25519 key pair as stored: PKCS#8 DER private key, raw 32-byte public key. */
export interface StoredSigningKey {
  keyId: string;
  privateKeyDer: Uint8Array;
  publicKey: Uint8Array;
}

/** Builds the entry with sequence number `seq` whose predecessor is `previous` (undefined for seq 1). */
export type EntryBuilder = (seq: number, previous: HistoryEntry | undefined) => HistoryEntry;

/**
 * The append-only device-list history per (tenant, user), and the directory's signing key.
 * Entries are never changed or removed.
 */
export interface DeviceHistoryStore {
  /**
   * Appends the entry `build` makes for the next seq after the user's last entry. Concurrent
   * appends for one user are serialized: a builder may run more than once (with a newer
   * predecessor) but exactly one entry per call is stored. Returns the stored entry.
   */
  append(scope: TenantScope, userId: string, build: EntryBuilder): Promise<HistoryEntry>;
  /** Entries with seq > afterSeq, ascending, at most `limit` (1..1000). */
  list(scope: TenantScope, userId: string, afterSeq: number, limit: number): Promise<HistoryEntry[]>;
  /**
   * The directory's signing key: the stored one, or `candidate` stored now when there is none.
   * Every instance sharing the store gets the same key.
   */
  signingKey(candidate: StoredSigningKey): Promise<StoredSigningKey>;
  close(): Promise<void>;
}
