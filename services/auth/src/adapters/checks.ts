import type { ApiKeyRecord, RevokeMode } from "../ports/api-key-store.js";
import type { PasswordRecord } from "../ports/password-store.js";
import type { RefreshTokenRecord, SessionRecord, SessionRevokeReason } from "../ports/session-store.js";
import type { SigningKeyRecord } from "../ports/signing-key-store.js";
import type { TenantChanges, TenantRecord, TenantState } from "../ports/tenant-store.js";
import type { UserProfile, UserState } from "../ports/user-store.js";

import { checkLimit, checkTime, tenantOf } from "@caas/shared/checks";

/** The checks every store shares come from the kit; re-exported so each adapter imports its checks from one place. */
export { checkLimit, checkTime, tenantOf };

/*
 * Argument checks shared by the adapters of the auth stores, so every adapter refuses exactly the
 * same inputs. A bad argument is a programming error: RangeError / TypeError.
 */

/** An id or name: a non-empty string of at most `max` characters. */
export function checkId(what: string, value: unknown, max = 128): string {
  if (typeof value !== "string" || value.length === 0 || value.length > max) {
    throw new RangeError(`${what} must be a string of 1-${max} characters`);
  }
  return value;
}

/** A new tenant record. */
export function checkTenantRecord(r: TenantRecord): void {
  checkId("id", r.id, 64);
  checkId("name", r.name, 128);
  checkTenantState(r.status);
  if (typeof r.settings !== "string") throw new RangeError("settings must be JSON text");
  checkTime("createTimeMs", r.createTimeMs);
  checkTime("updateTimeMs", r.updateTimeMs);
  if (!Number.isSafeInteger(r.revision) || r.revision < 1) throw new RangeError("revision must be a positive integer");
}

/** The changes of a tenant update. */
export function checkTenantChanges(c: TenantChanges): void {
  if (c.name !== undefined) checkId("name", c.name, 128);
  if (c.settings !== undefined && typeof c.settings !== "string") throw new RangeError("settings must be JSON text");
  if (c.status !== undefined) checkTenantState(c.status);
}

/** A tenant state. */
export function checkTenantState(s: TenantState): TenantState {
  if (s !== "active" && s !== "suspended" && s !== "deleted") throw new RangeError(`unknown tenant status ${String(s)}`);
  return s;
}

/** A new API key record for the scope's tenant. */
export function checkApiKeyRecord(tenantId: string, r: ApiKeyRecord): void {
  checkId("id", r.id, 64);
  if (r.tenantId !== tenantId) throw new RangeError("record.tenantId must be the scope's tenant");
  checkId("name", r.name, 128);
  checkId("prefix", r.prefix, 64);
  checkId("secretHash", r.secretHash, 256);
  checkTime("createTimeMs", r.createTimeMs);
  checkTime("lastUsedTimeMs", r.lastUsedTimeMs);
  if (r.revokeTimeMs !== undefined) checkTime("revokeTimeMs", r.revokeTimeMs);
}

/** A revoke mode. */
export function checkRevokeMode(mode: RevokeMode): RevokeMode {
  if (mode !== "earliest" && mode !== "if-unrevoked") throw new RangeError(`unknown revoke mode ${String(mode)}`);
  return mode;
}

/** A user profile for an upsert. */
export function checkUserProfile(p: UserProfile): void {
  checkId("id", p.id, 128);
  checkId("displayName", p.displayName, 128);
  if (typeof p.avatarUrl !== "string" || p.avatarUrl.length > 2048) throw new RangeError("avatarUrl must be a string of at most 2048 characters");
  if (typeof p.custom !== "string") throw new RangeError("custom must be JSON text or empty");
  if (!Array.isArray(p.roles) || p.roles.length > 64 || !p.roles.every((r) => typeof r === "string" && r.length > 0 && r.length <= 64)) {
    throw new RangeError("roles must be at most 64 strings of 1-64 characters");
  }
}

/** A user state. */
export function checkUserState(s: UserState): UserState {
  if (s !== "active" && s !== "deactivated") throw new RangeError(`unknown user status ${String(s)}`);
  return s;
}

/** A new signing key record. */
export function checkSigningKeyRecord(r: SigningKeyRecord): void {
  checkId("kid", r.kid, 128);
  checkId("alg", r.alg, 16);
  checkId("publicJwk", r.publicJwk, 4096);
  if (!(r.encryptedPrivateKey instanceof Uint8Array) || r.encryptedPrivateKey.length === 0) throw new RangeError("encryptedPrivateKey must be bytes");
  checkTime("createTimeMs", r.createTimeMs);
  checkTime("activateTimeMs", r.activateTimeMs);
}

const REVOKE_REASONS: readonly SessionRevokeReason[] = ["sign-out", "revoked-by-user", "refresh-token-reused", "user-erased", "user-deleted"];

/** A new session record for the scope's tenant. */
export function checkSessionRecord(tenantId: string, r: SessionRecord): void {
  checkId("id", r.id, 64);
  if (r.tenantId !== tenantId) throw new RangeError("session.tenantId must be the scope's tenant");
  checkId("userId", r.userId, 128);
  checkId("deviceId", r.deviceId, 128);
  if (typeof r.deviceName !== "string" || r.deviceName.length > 128) throw new RangeError("deviceName must be a string of at most 128 characters");
  if (!Array.isArray(r.scopes) || r.scopes.length > 16 || !r.scopes.every((s) => typeof s === "string" && s.length > 0 && s.length <= 64)) {
    throw new RangeError("scopes must be at most 16 strings of 1-64 characters");
  }
  if (typeof r.mfaSatisfied !== "boolean") throw new RangeError("mfaSatisfied must be a boolean");
  checkTime("createTimeMs", r.createTimeMs);
  checkTime("lastSeenTimeMs", r.lastSeenTimeMs);
  checkTime("expireTimeMs", r.expireTimeMs);
  if (r.revokeTimeMs !== undefined || r.revokeReason !== undefined) throw new RangeError("a new session is not revoked");
}

/** A new password login for the scope's tenant. */
export function checkPasswordRecord(tenantId: string, r: PasswordRecord): void {
  if (r.tenantId !== tenantId) throw new RangeError("record.tenantId must be the scope's tenant");
  checkId("login", r.login, 300);
  checkId("userId", r.userId, 128);
  checkId("hash", r.hash, 512);
  checkTime("createTimeMs", r.createTimeMs);
}

/** A refresh token record. */
export function checkRefreshRecord(r: RefreshTokenRecord): void {
  checkId("hash", r.hash, 256);
  checkTime("expireTimeMs", r.expireTimeMs);
}

/** A session revoke reason. */
export function checkRevokeReason(reason: SessionRevokeReason): SessionRevokeReason {
  if (!REVOKE_REASONS.includes(reason)) throw new RangeError(`unknown revoke reason ${String(reason)}`);
  return reason;
}
