import type { TenantScope } from "@caas/shared/tenant-scope";

/** A user's TOTP second factor. */
export interface TotpRecord {
  tenantId: string;
  userId: string;
  /** The shared secret, sealed with the auth TOTP key (base64). */
  sealedSecret: string;
  /** False while the enrollment waits for its first code (ConfirmTotp). */
  enabled: boolean;
  /** Keyed hashes of the recovery codes (used ones stay listed; their use is claimed). */
  recoveryHashes: string[];
  createTimeMs: number;
}

/**
 * TOTP enrollments, one per user, and the one-time claims that make codes single use. Every
 * method is scoped to one tenant.
 */
export interface TotpStore {
  /** Starts (or restarts) a pending enrollment. False, and nothing changes, if TOTP is enabled. */
  startEnrollment(scope: TenantScope, userId: string, sealedSecret: string, nowMs: number): Promise<boolean>;

  get(scope: TenantScope, userId: string): Promise<TotpRecord | undefined>;

  /** Enables a pending enrollment with its recovery code hashes. False if none is pending. */
  enable(scope: TenantScope, userId: string, recoveryHashes: string[]): Promise<boolean>;

  /**
   * Claims a one-time use (a TOTP step, a recovery code, an MFA challenge) of the user: true for
   * the first claim of `useKey`, false ever after. Atomic across instances.
   */
  claim(scope: TenantScope, userId: string, useKey: string, nowMs: number): Promise<boolean>;

  /** Removes the user's enrollment and its claims; false if there was none. */
  remove(scope: TenantScope, userId: string): Promise<boolean>;

  close(): Promise<void>;
}
