import type { TenantScope } from "@caas/shared/tenant-scope";

/** The kinds of data-subject request a job carries out. */
export type PrivacyJobKind = "erasure" | "export" | "tenant_deletion";

/** "expired": an export whose archive was deleted (its retention ran out, or the user was erased). */
export type PrivacyJobState = "running" | "succeeded" | "failed" | "expired";

/** Why an export's archive was deleted. */
export type ArchiveDeleteReason = "retention" | "erasure";

/** One service's part of a job: how many items it handled and where to resume it. */
export interface JobStep {
  service: string;
  items: number;
  done: boolean;
  /** The service's page token to resume from ("" at the start). */
  cursor: string;
  /** Conversations under a legal hold when the step started (fixed for the step: its page tokens are bound to them). */
  held?: string[];
  /** Held conversations the service passed over. */
  skipped?: string[];
  /** Export jobs: the archive entries this step wrote so far, in order. */
  paths?: string[];
  /** Export jobs, the packing step once done: the archive's size and hex SHA-256. */
  archive?: { size: number; sha256: string };
}

/** A persisted data-subject request. */
export interface PrivacyJobRecord {
  tenantId: string;
  id: string;
  kind: PrivacyJobKind;
  userId: string;
  state: PrivacyJobState;
  steps: JobStep[];
  error: string;
  createTimeMs: number;
  updateTimeMs: number;
  /** 0 until the job succeeded. */
  completeTimeMs: number;
  /** Exports: when the archive is (or, once expired, was) deleted; 0 until the job succeeded. */
  expireTimeMs: number;
  /** Exports, once expired: why the archive was deleted ("" before). */
  deleteReason: ArchiveDeleteReason | "";
}

/**
 * Data-subject request jobs. At most one unfinished (running or failed) job per (tenant, kind,
 * user): `create` returns that one instead of a second. Every method but `unfinished` is scoped
 * to one tenant.
 */
export interface PrivacyJobStore {
  /** Stores a new RUNNING job, or returns the user's unfinished job of that kind (`created` false). */
  create(scope: TenantScope, job: PrivacyJobRecord): Promise<{ job: PrivacyJobRecord; created: boolean }>;
  get(scope: TenantScope, id: string): Promise<PrivacyJobRecord | undefined>;
  /** The user's most recent job of a kind. */
  latest(scope: TenantScope, kind: PrivacyJobKind, userId: string): Promise<PrivacyJobRecord | undefined>;
  /** The user's jobs of a kind, oldest first, at most `limit`. */
  ofUser(scope: TenantScope, kind: PrivacyJobKind, userId: string, limit: number): Promise<PrivacyJobRecord[]>;
  /** The tenant's jobs of a kind not yet expired (any user), oldest first, at most `limit`. */
  openOfKind(scope: TenantScope, kind: PrivacyJobKind, limit: number): Promise<PrivacyJobRecord[]>;
  /**
   * Writes the job's state, steps, error, times and delete reason (the id, kind and user never
   * change). An EXPIRED job is final (its archive is gone): saving one changes nothing and returns
   * false, so an export still running when its archive was deleted cannot bring it back.
   */
  save(scope: TenantScope, job: PrivacyJobRecord): Promise<boolean>;
  /** Jobs running or failed, of every tenant, oldest first (resumed at start), at most `limit`. */
  unfinished(limit: number): Promise<PrivacyJobRecord[]>;
  /** Succeeded jobs whose archive is due (0 < expireTimeMs <= nowMs), soonest first, of one tenant or (no tenantId) every tenant; at most `limit`. */
  dueToExpire(query: { nowMs: number; limit: number; tenantId?: string }): Promise<PrivacyJobRecord[]>;
  close(): Promise<void>;
}
