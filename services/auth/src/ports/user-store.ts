import type { TenantScope } from "@caas/shared/tenant-scope";

/** Whether a user may obtain tokens (caas.auth.v1.UserStatus). */
export type UserState = "active" | "deactivated";

/** What UpsertUser replaces. */
export interface UserProfile {
  /** Tenant-chosen id, ^[A-Za-z0-9_.@:-]{1,128}$, unique within the tenant. */
  id: string;
  displayName: string;
  /** "" when none. */
  avatarUrl: string;
  /** Tenant data as JSON object text; "" when none. */
  custom: string;
  roles: string[];
}

/** A user as stored. */
export interface UserRecord extends UserProfile {
  tenantId: string;
  status: UserState;
  createTimeMs: number;
  updateTimeMs: number;
}

/** One page of `list`. */
export interface UserListQuery {
  /** Only users in this state; all when omitted. */
  status?: UserState;
  /** Keyset: only ids greater than this one. */
  afterId?: string;
  /** 1..1000. */
  limit: number;
}

/** End users of tenants. Every method is scoped to one tenant. */
export interface UserStore {
  /**
   * Creates the user (ACTIVE) or replaces its profile; the status and create time of an existing
   * user are kept. Atomic per user: concurrent upserts of one new id create it once.
   */
  upsert(scope: TenantScope, profile: UserProfile, nowMs: number): Promise<{ user: UserRecord; created: boolean }>;

  /**
   * Creates the user (ACTIVE) with `profile` unless one with that id exists, which is left exactly
   * as it is (profile and status). Atomic per user. `created` says which happened.
   */
  createIfAbsent(scope: TenantScope, profile: UserProfile, nowMs: number): Promise<{ user: UserRecord; created: boolean }>;

  get(scope: TenantScope, id: string): Promise<UserRecord | undefined>;

  /** The tenant's users in ascending id order (byte order), at most `limit`. */
  list(scope: TenantScope, query: UserListQuery): Promise<UserRecord[]>;

  /**
   * Sets the status; idempotent (updateTimeMs changes only when the status does). Undefined for
   * an unknown user.
   */
  setStatus(scope: TenantScope, id: string, status: UserState, nowMs: number): Promise<UserRecord | undefined>;

  /** Deletes the user; false if it did not exist. The id may be upserted again afterwards. */
  delete(scope: TenantScope, id: string): Promise<boolean>;

  close(): Promise<void>;
}
