import type Database from "better-sqlite3";
import type { PrivacyJobRecord, PrivacyJobStore } from "../ports/privacy-job-store.js";
import { tenantOf } from "./audit-rows.js";
import { checkJob, openKeyOf, stepsOf } from "./privacy-jobs-rows.js";

interface Row {
  tenant_id: string;
  id: string;
  kind: string;
  user_id: string;
  state: string;
  steps: string;
  error: string;
  create_time_ms: number;
  update_time_ms: number;
  complete_time_ms: number;
  expire_time_ms: number;
  delete_reason: string;
}

const COLUMNS = "tenant_id, id, kind, user_id, state, steps, error, create_time_ms, update_time_ms, complete_time_ms, expire_time_ms, delete_reason";

/** The embedded PrivacyJobStore: `privacy_jobs` in compliance's SQLite file; the unique open key keeps one unfinished job per user and kind. */
export function createSqlitePrivacyJobStore(opts: { db: Database.Database }): PrivacyJobStore {
  const { db } = opts;
  const insert = db.prepare(`INSERT INTO privacy_jobs (${COLUMNS}, open_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, open_key) DO NOTHING`);
  const byId = db.prepare<[string, string], Row>(`SELECT ${COLUMNS} FROM privacy_jobs WHERE tenant_id = ? AND id = ?`);
  const byOpenKey = db.prepare<[string, string], Row>(`SELECT ${COLUMNS} FROM privacy_jobs WHERE tenant_id = ? AND open_key = ?`);
  const latest = db.prepare<[string, string, string], Row>(`SELECT ${COLUMNS} FROM privacy_jobs WHERE tenant_id = ? AND kind = ? AND user_id = ? ORDER BY create_time_ms DESC, id DESC LIMIT 1`);
  const ofUser = db.prepare<[string, string, string, number], Row>(`SELECT ${COLUMNS} FROM privacy_jobs WHERE tenant_id = ? AND kind = ? AND user_id = ? ORDER BY create_time_ms, id LIMIT ?`);
  const openOfKind = db.prepare<[string, string, number], Row>(`SELECT ${COLUMNS} FROM privacy_jobs WHERE tenant_id = ? AND kind = ? AND state != 'expired' ORDER BY create_time_ms, id LIMIT ?`);
  const update = db.prepare(
    `UPDATE privacy_jobs SET state = ?, steps = ?, error = ?, update_time_ms = ?, complete_time_ms = ?, expire_time_ms = ?, delete_reason = ?, open_key = ? WHERE tenant_id = ? AND id = ? AND state != 'expired'`,
  );
  const unfinished = db.prepare<[number], Row>(`SELECT ${COLUMNS} FROM privacy_jobs WHERE state IN ('running', 'failed') ORDER BY create_time_ms, tenant_id, id LIMIT ?`);
  const due = db.prepare<[number, number], Row>(
    `SELECT ${COLUMNS} FROM privacy_jobs WHERE state = 'succeeded' AND expire_time_ms > 0 AND expire_time_ms <= ? ORDER BY expire_time_ms, tenant_id, id LIMIT ?`,
  );
  const dueOfTenant = db.prepare<[string, number, number], Row>(
    `SELECT ${COLUMNS} FROM privacy_jobs WHERE tenant_id = ? AND state = 'succeeded' AND expire_time_ms > 0 AND expire_time_ms <= ? ORDER BY expire_time_ms, id LIMIT ?`,
  );
  return {
    async create(scope, job) {
      const tenantId = tenantOf(scope);
      checkJob(tenantId, job);
      const r = insert.run(
        tenantId,
        job.id,
        job.kind,
        job.userId,
        job.state,
        JSON.stringify(job.steps),
        job.error,
        job.createTimeMs,
        job.updateTimeMs,
        job.completeTimeMs,
        job.expireTimeMs,
        job.deleteReason,
        openKeyOf(job),
      );
      if (r.changes === 1) return { job: structuredClone(job), created: true };
      return { job: toRecord(byOpenKey.get(tenantId, openKeyOf(job))!), created: false };
    },
    async get(scope, id) {
      const row = byId.get(tenantOf(scope), id);
      return row && toRecord(row);
    },
    async latest(scope, kind, userId) {
      const row = latest.get(tenantOf(scope), kind, userId);
      return row && toRecord(row);
    },
    async save(scope, job) {
      const tenantId = tenantOf(scope);
      checkJob(tenantId, job);
      return update.run(job.state, JSON.stringify(job.steps), job.error, job.updateTimeMs, job.completeTimeMs, job.expireTimeMs, job.deleteReason, openKeyOf(job), tenantId, job.id).changes > 0;
    },
    async ofUser(scope, kind, userId, limit) {
      return ofUser.all(tenantOf(scope), kind, userId, limit).map(toRecord);
    },
    async openOfKind(scope, kind, limit) {
      return openOfKind.all(tenantOf(scope), kind, limit).map(toRecord);
    },
    async unfinished(limit) {
      return unfinished.all(limit).map(toRecord);
    },
    async dueToExpire({ nowMs, limit, tenantId }) {
      return (tenantId === undefined ? due.all(nowMs, limit) : dueOfTenant.all(tenantId, nowMs, limit)).map(toRecord);
    },
    async close() {},
  };
}

function toRecord(r: Row): PrivacyJobRecord {
  return {
    tenantId: r.tenant_id,
    id: r.id,
    kind: r.kind as PrivacyJobRecord["kind"],
    userId: r.user_id,
    state: r.state as PrivacyJobRecord["state"],
    steps: stepsOf(r.steps),
    error: r.error,
    createTimeMs: r.create_time_ms,
    updateTimeMs: r.update_time_ms,
    completeTimeMs: r.complete_time_ms,
    expireTimeMs: r.expire_time_ms,
    deleteReason: r.delete_reason as PrivacyJobRecord["deleteReason"],
  };
}
