import type Database from "better-sqlite3";
import { MAX_TENANT_ROWS, type LegalHoldRecord, type RetentionPolicyRecord, type RetentionStore } from "../ports/retention-store.js";
import { tenantOf } from "./audit-rows.js";
import { activeKeyOf, checkHold, checkPolicy } from "./retention-rows.js";

interface PolicyRow {
  tenant_id: string;
  conversation_id: string;
  message_max_age_ms: number;
  media_max_age_ms: number;
  export_max_age_ms: number;
  update_time_ms: number;
}

interface HoldRow {
  tenant_id: string;
  id: string;
  kind: string;
  target_id: string;
  reason: string;
  create_time_ms: number;
  release_time_ms: number;
}

const HOLD_COLUMNS = "tenant_id, id, kind, target_id, reason, create_time_ms, release_time_ms";

/** The embedded RetentionStore: `retention_policies` and `legal_holds` in compliance's SQLite file (single process). */
export function createSqliteRetentionStore(opts: { db: Database.Database }): RetentionStore {
  const { db } = opts;
  const putPolicy = db.prepare(
    `INSERT INTO retention_policies (tenant_id, conversation_id, message_max_age_ms, media_max_age_ms, export_max_age_ms, update_time_ms) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (tenant_id, conversation_id) DO UPDATE SET message_max_age_ms = excluded.message_max_age_ms, media_max_age_ms = excluded.media_max_age_ms,
       export_max_age_ms = excluded.export_max_age_ms, update_time_ms = excluded.update_time_ms`,
  );
  const getPolicy = db.prepare<[string, string], PolicyRow>(`SELECT * FROM retention_policies WHERE tenant_id = ? AND conversation_id = ?`);
  const deletePolicy = db.prepare(`DELETE FROM retention_policies WHERE tenant_id = ? AND conversation_id = ?`);
  const policies = db.prepare<[string, number], PolicyRow>(`SELECT * FROM retention_policies WHERE tenant_id = ? ORDER BY conversation_id LIMIT ?`);
  const tenants = db.prepare<[string, number], { tenant_id: string }>(`SELECT DISTINCT tenant_id FROM retention_policies WHERE tenant_id > ? ORDER BY tenant_id LIMIT ?`);
  const insertHold = db.prepare(`INSERT INTO legal_holds (${HOLD_COLUMNS}, active_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, active_key) DO NOTHING`);
  const holdByKey = db.prepare<[string, string], HoldRow>(`SELECT ${HOLD_COLUMNS} FROM legal_holds WHERE tenant_id = ? AND active_key = ?`);
  const holdById = db.prepare<[string, string], HoldRow>(`SELECT ${HOLD_COLUMNS} FROM legal_holds WHERE tenant_id = ? AND id = ?`);
  const release = db.prepare(`UPDATE legal_holds SET release_time_ms = ?, active_key = ? WHERE tenant_id = ? AND id = ? AND release_time_ms = 0`);
  const active = db.prepare<[string, number], HoldRow>(`SELECT ${HOLD_COLUMNS} FROM legal_holds WHERE tenant_id = ? AND release_time_ms = 0 ORDER BY create_time_ms DESC, id DESC LIMIT ?`);
  const all = db.prepare<[string, number], HoldRow>(`SELECT ${HOLD_COLUMNS} FROM legal_holds WHERE tenant_id = ? ORDER BY create_time_ms DESC, id DESC LIMIT ?`);
  return {
    async putPolicy(scope, policy) {
      const tenantId = tenantOf(scope);
      checkPolicy(tenantId, policy);
      putPolicy.run(tenantId, policy.conversationId, policy.messageMaxAgeMs, policy.mediaMaxAgeMs, policy.exportMaxAgeMs, policy.updateTimeMs);
    },
    async getPolicy(scope, conversationId) {
      const row = getPolicy.get(tenantOf(scope), conversationId);
      return row && policyOf(row);
    },
    async deletePolicy(scope, conversationId) {
      return deletePolicy.run(tenantOf(scope), conversationId).changes > 0;
    },
    async policies(scope) {
      return policies.all(tenantOf(scope), MAX_TENANT_ROWS).map(policyOf);
    },
    async tenantsWithPolicies({ after, limit }) {
      return tenants.all(after, limit).map((r) => r.tenant_id);
    },
    async placeHold(scope, hold) {
      const tenantId = tenantOf(scope);
      checkHold(tenantId, hold);
      const key = activeKeyOf(hold);
      const r = insertHold.run(tenantId, hold.id, hold.kind, hold.targetId, hold.reason, hold.createTimeMs, hold.releaseTimeMs, key);
      if (r.changes === 1) return { hold: { ...hold }, created: true };
      return { hold: holdOf(holdByKey.get(tenantId, key)!), created: false };
    },
    async releaseHold(scope, id, releaseTimeMs) {
      const tenantId = tenantOf(scope);
      const changed = release.run(releaseTimeMs, `released|${id}`, tenantId, id).changes === 1;
      const row = holdById.get(tenantId, id);
      return row && { hold: holdOf(row), changed };
    },
    async holds(scope, { includeReleased }) {
      return (includeReleased ? all : active).all(tenantOf(scope), MAX_TENANT_ROWS).map(holdOf);
    },
    async close() {},
  };
}

function policyOf(r: PolicyRow): RetentionPolicyRecord {
  return {
    tenantId: r.tenant_id,
    conversationId: r.conversation_id,
    messageMaxAgeMs: r.message_max_age_ms,
    mediaMaxAgeMs: r.media_max_age_ms,
    exportMaxAgeMs: r.export_max_age_ms,
    updateTimeMs: r.update_time_ms,
  };
}

function holdOf(r: HoldRow): LegalHoldRecord {
  return { tenantId: r.tenant_id, id: r.id, kind: r.kind as LegalHoldRecord["kind"], targetId: r.target_id, reason: r.reason, createTimeMs: r.create_time_ms, releaseTimeMs: r.release_time_ms };
}
