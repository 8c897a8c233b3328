import type Database from "better-sqlite3";
import type { TotpRecord, TotpStore } from "../ports/totp-store.js";
import { isSqliteUniqueViolation } from "./auth-sqlite.js";
import { checkId, checkTime, tenantOf } from "./checks.js";

interface Row {
  tenant_id: string;
  user_id: string;
  sealed_secret: string;
  enabled: number;
  recovery_hashes: string;
  create_time_ms: number;
}

/**
 * The embedded TotpStore on the auth database: tables `totp` (one row per user) and
 * `totp_claims` (one row per claimed use; the primary key makes a claim single). Single machine only.
 */
export function createSqliteTotpStore(opts: { db: Database.Database }): TotpStore {
  const { db } = opts;
  const byUser = db.prepare<[string, string], Row>("SELECT * FROM totp WHERE tenant_id = ? AND user_id = ?");
  const upsertPending = db.prepare(
    `INSERT INTO totp (tenant_id, user_id, sealed_secret, enabled, recovery_hashes, create_time_ms) VALUES (?, ?, ?, 0, '[]', ?)
     ON CONFLICT (tenant_id, user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret, create_time_ms = excluded.create_time_ms WHERE totp.enabled = 0`,
  );
  const enable = db.prepare("UPDATE totp SET enabled = 1, recovery_hashes = ? WHERE tenant_id = ? AND user_id = ? AND enabled = 0");
  const claim = db.prepare("INSERT INTO totp_claims (tenant_id, user_id, use_key, create_time_ms) VALUES (?, ?, ?, ?)");
  const removeTotp = db.prepare("DELETE FROM totp WHERE tenant_id = ? AND user_id = ?");
  const removeClaims = db.prepare("DELETE FROM totp_claims WHERE tenant_id = ? AND user_id = ?");
  const remove = db.transaction((tenantId: string, userId: string) => {
    removeClaims.run(tenantId, userId);
    return removeTotp.run(tenantId, userId).changes > 0;
  });

  return {
    async startEnrollment(scope, userId, sealedSecret, nowMs) {
      const tenantId = tenantOf(scope);
      return upsertPending.run(tenantId, checkId("userId", userId), checkId("sealedSecret", sealedSecret, 512), checkTime("nowMs", nowMs)).changes > 0;
    },

    async get(scope, userId) {
      const row = byUser.get(tenantOf(scope), checkId("userId", userId));
      return row && toRecord(row);
    },

    async enable(scope, userId, recoveryHashes) {
      if (!Array.isArray(recoveryHashes) || !recoveryHashes.every((h) => typeof h === "string" && h.length > 0)) throw new RangeError("recoveryHashes must be strings");
      return enable.run(JSON.stringify(recoveryHashes), tenantOf(scope), checkId("userId", userId)).changes > 0;
    },

    async claim(scope, userId, useKey, nowMs) {
      try {
        claim.run(tenantOf(scope), checkId("userId", userId), checkId("useKey", useKey, 256), checkTime("nowMs", nowMs));
        return true;
      } catch (err) {
        if (isSqliteUniqueViolation(err)) return false;
        throw err;
      }
    },

    async remove(scope, userId) {
      return remove.immediate(tenantOf(scope), checkId("userId", userId));
    },

    async close() {},
  };
}

function toRecord(r: Row): TotpRecord {
  return {
    tenantId: r.tenant_id,
    userId: r.user_id,
    sealedSecret: r.sealed_secret,
    enabled: r.enabled === 1,
    recoveryHashes: JSON.parse(r.recovery_hashes) as string[],
    createTimeMs: r.create_time_ms,
  };
}
