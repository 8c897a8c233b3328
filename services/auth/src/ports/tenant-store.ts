import type { TenantScope } from "@caas/shared/tenant-scope";

/** Lifecycle state of a tenant (caas.auth.v1.TenantStatus). */
export type TenantState = "active" | "suspended" | "deleted";

/** A tenant as stored. */
export interface TenantRecord {
  /** UUIDv7, assigned by the service; UUIDv7 order is creation order. */
  id: string;
  name: string;
  status: TenantState;
  /** caas.auth.v1.TenantSettings in proto3 JSON; the store keeps it as given. */
  settings: string;
  createTimeMs: number;
  updateTimeMs: number;
  /** 1 on creation, +1 on every change: updates compare it so none is lost. */
  revision: number;
}

/** What an update may change. */
export interface TenantChanges {
  name?: string;
  settings?: string;
  status?: TenantState;
}

/** One page of `list`. */
export interface TenantListQuery {
  /** Only tenants in this state; all when omitted. */
  status?: TenantState;
  /** Keyset: only ids greater than this one. */
  afterId?: string;
  /** 1..1000. */
  limit: number;
}

/**
 * The registry of tenants (platform plane: only platform-admin RPCs and credential checks use
 * it). A tenant's own row is addressed through its TenantScope.
 */
export interface TenantStore {
  /** Inserts a new tenant. AlreadyExistsError if the id exists. */
  create(record: TenantRecord): Promise<void>;

  /** The tenant of `scope`, if it exists. */
  get(scope: TenantScope): Promise<TenantRecord | undefined>;

  /** Tenants in ascending id order (= creation order), at most `limit`. */
  list(query: TenantListQuery): Promise<TenantRecord[]>;

  /**
   * Applies `changes`, bumps the revision and sets updateTimeMs. With `ifRevision`, only when the
   * stored revision equals it (compare-and-set; the caller re-reads and retries). Returns the new
   * record, or undefined when no tenant (with that revision) exists.
   */
  update(scope: TenantScope, changes: TenantChanges, nowMs: number, ifRevision?: number): Promise<TenantRecord | undefined>;

  close(): Promise<void>;
}
