import type { TenantScope } from "@caas/shared/tenant-scope";

/** A tenant API key as stored: never the secret, only its keyed hash. */
export interface ApiKeyRecord {
  /** UUIDv7, unique across the platform (admin RPCs and the secret name a key by id alone). */
  id: string;
  tenantId: string;
  name: string;
  /** The first characters of the secret, to recognise a key. */
  prefix: string;
  /** HMAC-SHA256 of the whole secret under the server pepper, base64url. */
  secretHash: string;
  createTimeMs: number;
  /** 0 when never used. */
  lastUsedTimeMs: number;
  /** When the key stops (or stopped) working; undefined while active without end. */
  revokeTimeMs?: number;
}

/** One page of `list`. */
export interface ApiKeyListQuery {
  /** Also list keys whose revoke time has passed. */
  includeRevoked: boolean;
  /** "now" for deciding which keys are revoked. */
  nowMs: number;
  /** Keyset: only ids smaller than this one (the list is newest first). */
  beforeId?: string;
  /** 1..1000. */
  limit: number;
}

/** How `revoke` treats a key that already has a revoke time. */
export type RevokeMode =
  /** RevokeApiKey: the earlier of the two times wins (revoking again never extends a key's life). */
  | "earliest"
  /** RotateApiKey: only a key without a revoke time is changed. */
  | "if-unrevoked";

/**
 * Tenant API keys. The tenant plane (create, list, count) takes a TenantScope; the platform plane
 * (admin RPCs and the credential check, which learn the key id from a request or a secret) reads
 * and changes a key by its platform-unique id, and the caller then checks the tenant.
 */
export interface ApiKeyStore {
  /** Inserts a key for the scope's tenant (record.tenantId must match). AlreadyExistsError on a duplicate id. */
  create(scope: TenantScope, record: ApiKeyRecord): Promise<void>;

  /** A key by id, whatever its tenant (platform plane). */
  get(id: string): Promise<ApiKeyRecord | undefined>;

  /** The tenant's keys, newest first (descending id). */
  list(scope: TenantScope, query: ApiKeyListQuery): Promise<ApiKeyRecord[]>;

  /** Number of the tenant's keys not revoked at `nowMs`. */
  countActive(scope: TenantScope, nowMs: number): Promise<number>;

  /**
   * Sets the revoke time (see RevokeMode). Returns the stored key and whether this call changed
   * it, or undefined for an unknown id.
   */
  revoke(id: string, atMs: number, mode: RevokeMode): Promise<{ record: ApiKeyRecord; changed: boolean } | undefined>;

  /**
   * Records a use at `atMs` unless one was recorded less than `minIntervalMs` before (so a busy
   * key costs at most one write per interval). Unknown ids are ignored.
   */
  touch(id: string, atMs: number, minIntervalMs: number): Promise<void>;

  close(): Promise<void>;
}
