import type { TenantScope } from "@caas/shared/tenant-scope";

/** A password login of a user (built-in accounts of standalone apps). */
export interface PasswordRecord {
  tenantId: string;
  /** The normalized login: `email:<lower-cased address>` or `username:<lower-cased name>`. */
  login: string;
  userId: string;
  /** An encoded scrypt hash (domain/passwords.ts). */
  hash: string;
  createTimeMs: number;
}

/** Password logins, unique per tenant. Every method is scoped to one tenant. */
export interface PasswordStore {
  /**
   * Stores a new login. False if the login is taken in this tenant (nothing changes); atomic, so
   * of concurrent creates of one login exactly one succeeds.
   */
  create(scope: TenantScope, record: PasswordRecord): Promise<boolean>;

  getByLogin(scope: TenantScope, login: string): Promise<PasswordRecord | undefined>;

  /** Whether the user has a password login (TOTP is for password accounts only). */
  hasLogin(scope: TenantScope, userId: string): Promise<boolean>;

  /** The user's logins (without their hashes' use: export of the user's data). */
  ofUser(scope: TenantScope, userId: string): Promise<PasswordRecord[]>;

  /** Deletes every login of the user (erasure); returns how many there were. */
  removeUser(scope: TenantScope, userId: string): Promise<number>;

  close(): Promise<void>;
}
