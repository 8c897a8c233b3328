import type { TenantScope } from "@caas/shared/tenant-scope";
import type { AuditCheckpoint, AuditEvent } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import type { AuditSubjectStore } from "./audit-subjects.js";

/** The last record of a tenant's chain (position 0 and the genesis hash when it has none). */
export interface ChainHead {
  position: bigint;
  hash: Uint8Array;
}

/** What `insert` did. */
export type InsertOutcome =
  | { kind: "inserted" }
  /** Another writer claimed the position first: read the head again and retry. */
  | { kind: "position-taken" }
  /** A record of this source event exists already (a redelivery): it is returned, nothing was written. */
  | { kind: "duplicate"; existing: AuditEvent };

/** ListAuditEvents filters; unset ones match everything. */
export interface AuditFilter {
  /** One id, or any of several (a user id and its pseudonym). */
  actorId?: string | readonly string[];
  action?: string;
  /** One id, or any of several. */
  targetId?: string | readonly string[];
  /** event_time at or after, in ms. */
  startTimeMs?: number;
  /** event_time before, in ms. */
  endTimeMs?: number;
}

/** A checkpoint signing key as stored: the private key sealed under compliance's key-encryption key. */
export interface AuditKeyRecord {
  keyId: string;
  publicKey: Uint8Array;
  sealedPrivateKey: Uint8Array;
  createTimeMs: number;
}

/** One page of `list`. */
export interface AuditPage {
  /** Matching records, ascending: at most the limit, and fewer (even none) when the store bounds the work of one call. */
  events: AuditEvent[];
  /** Set when records after the page may match: the next page lists after this position. */
  resumeAfter?: bigint;
}

/** Most records one `list` or `range` call returns. */
export const MAX_AUDIT_PAGE = 1000;

/**
 * The audit log of every tenant: hash-chained records, signed checkpoints and the signing keys.
 * Records are written once and never updated. Positions are dense per tenant and claimed by a
 * unique (tenant, position) key, so any number of compliance instances may append: only one
 * insert wins a position. A unique (tenant, source event) key makes appends exactly once per
 * source event. Times are whole milliseconds. The pseudonym links of users (AuditSubjectStore)
 * live in the same database, outside the chain.
 */
export interface AuditStore extends AuditSubjectStore {
  /** The tenant's last record (position 0 and 32 zero bytes when there is none). */
  head(scope: TenantScope): Promise<ChainHead>;
  /** Inserts a record whose position, hash and source event id are set; never overwrites. */
  insert(scope: TenantScope, event: AuditEvent): Promise<InsertOutcome>;
  /**
   * Inserts records set as for `insert`, at consecutive positions, in order, and stops at the first
   * one refused because its position is taken or its source event is recorded: returns how many
   * were inserted (that prefix). Any other failure throws, possibly after a prefix was inserted.
   */
  insertRun(scope: TenantScope, events: readonly AuditEvent[]): Promise<number>;
  /** The record made from a source event, if any. */
  findBySource(scope: TenantScope, sourceEventId: string): Promise<AuditEvent | undefined>;
  /**
   * Records matching the filter with position > afterPosition, ascending, at most `limit`
   * (1..MAX_AUDIT_PAGE); a page may be short (a store may bound the records it examines per call),
   * so only a missing `resumeAfter` means the end.
   */
  list(scope: TenantScope, filter: AuditFilter, afterPosition: bigint, limit: number): Promise<AuditPage>;
  /** Records with fromPosition <= position <= toPosition as stored, ascending, at most `limit` (1..MAX_AUDIT_PAGE). */
  range(scope: TenantScope, fromPosition: bigint, toPosition: bigint, limit: number): Promise<AuditEvent[]>;
  /** Stores a signed checkpoint; a second one at the same position is ignored (false). */
  insertCheckpoint(scope: TenantScope, checkpoint: AuditCheckpoint): Promise<boolean>;
  /** Checkpoints with fromPosition <= position <= toPosition, ascending. */
  checkpoints(scope: TenantScope, fromPosition: bigint, toPosition: bigint): Promise<AuditCheckpoint[]>;
  /** The last checkpoint at or before `position`, if any. */
  checkpointAtOrBefore(scope: TenantScope, position: bigint): Promise<AuditCheckpoint | undefined>;
  /** Stores a signing key (ALREADY_EXISTS-safe: an existing key id is left alone). */
  insertKey(key: AuditKeyRecord): Promise<void>;
  /** Every signing key, oldest first. */
  listKeys(): Promise<AuditKeyRecord[]>;
  close(): Promise<void>;
}
