import type Database from "better-sqlite3";
import type { AuditCheckpoint } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import { GENESIS_HASH } from "../domain/audit-chain.js";
import type { AuditFilter, AuditKeyRecord, AuditStore } from "../ports/audit-store.js";
import { createSqliteAuditSubjects } from "./audit-subjects-sqlite.js";
import { checkLimit, checkpointOf, checkpointRowOf, eventOf, positionNumber, rowOf, tenantOf, type AuditRow, type CheckpointRow } from "./audit-rows.js";

const COLUMNS = `tenant_id AS tenantId, position, source_event_id AS sourceEventId, source, event_time_ms AS eventTimeMs,
  actor_kind AS actorKind, actor_id AS actorId, action, target_type AS targetType, target_id AS targetId,
  target_conversation_id AS targetConversationId, outcome, correlation_id AS correlationId, details,
  record_time_ms AS recordTimeMs, subject_form AS subjectForm, hash`;
const CHECKPOINT_COLUMNS = "tenant_id AS tenantId, position, head_hash AS headHash, create_time_ms AS createTimeMs, key_id AS keyId, signature";

/**
 * The embedded-mode AuditStore on compliance's SQLite file. Each write is one statement, so
 * several connections (or processes) on the file may append; the primary key decides positions.
 */
export function createSqliteAuditStore(opts: { db: Database.Database }): AuditStore {
  const { db } = opts;
  const insertRow = db.prepare(`INSERT INTO audit_events (tenant_id, position, source_event_id, source, event_time_ms, actor_kind, actor_id,
    action, target_type, target_id, target_conversation_id, outcome, correlation_id, details, record_time_ms, subject_form, hash)
    VALUES (@tenantId, @position, @sourceEventId, @source, @eventTimeMs, @actorKind, @actorId, @action, @targetType, @targetId,
    @targetConversationId, @outcome, @correlationId, @details, @recordTimeMs, @subjectForm, @hash)`);
  const headRow = db.prepare("SELECT position, hash FROM audit_events WHERE tenant_id = ? ORDER BY position DESC LIMIT 1");
  const bySource = db.prepare(`SELECT ${COLUMNS} FROM audit_events WHERE tenant_id = ? AND source_event_id = ?`);
  const rangeRows = db.prepare(`SELECT ${COLUMNS} FROM audit_events WHERE tenant_id = ? AND position >= ? AND position <= ? ORDER BY position LIMIT ?`);
  const insertCp = db.prepare(`INSERT OR IGNORE INTO audit_checkpoints (tenant_id, position, head_hash, create_time_ms, key_id, signature)
    VALUES (@tenantId, @position, @headHash, @createTimeMs, @keyId, @signature)`);
  const cpRange = db.prepare(`SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE tenant_id = ? AND position >= ? AND position <= ? ORDER BY position`);
  const cpBefore = db.prepare(`SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE tenant_id = ? AND position <= ? ORDER BY position DESC LIMIT 1`);
  const insertKey = db.prepare("INSERT OR IGNORE INTO audit_keys (key_id, public_key, sealed_private_key, create_time_ms) VALUES (?, ?, ?, ?)");
  // One transaction; a refused row ends the run (SQLite undoes that statement only) and the prefix commits.
  const insertRows = db.transaction((rows: AuditRow[]): number => {
    let inserted = 0;
    for (const row of rows) {
      try {
        insertRow.run({ ...row, hash: Buffer.from(row.hash) });
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "SQLITE_CONSTRAINT_UNIQUE") break;
        throw err;
      }
      inserted++;
    }
    return inserted;
  });
  const listKeys = db.prepare(
    "SELECT key_id AS keyId, public_key AS publicKey, sealed_private_key AS sealedPrivateKey, create_time_ms AS createTimeMs FROM audit_keys ORDER BY create_time_ms, key_id",
  );

  return {
    async head(scope) {
      const row = headRow.get(tenantOf(scope)) as { position: number; hash: Buffer } | undefined;
      return row ? { position: BigInt(row.position), hash: new Uint8Array(row.hash) } : { position: 0n, hash: GENESIS_HASH };
    },

    async insert(scope, event) {
      const row = rowOf(tenantOf(scope), event);
      try {
        insertRow.run({ ...row, hash: Buffer.from(row.hash) });
        return { kind: "inserted" };
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === "SQLITE_CONSTRAINT_UNIQUE") {
          const existing = bySource.get(row.tenantId, row.sourceEventId) as AuditRow | undefined;
          if (existing) return { kind: "duplicate", existing: eventOf(existing) };
        }
        if (code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "SQLITE_CONSTRAINT_UNIQUE") return { kind: "position-taken" };
        throw err;
      }
    },

    async insertRun(scope, events) {
      const tenantId = tenantOf(scope);
      return insertRows(events.map((e) => rowOf(tenantId, e)));
    },

    async findBySource(scope, sourceEventId) {
      const row = bySource.get(tenantOf(scope), sourceEventId) as AuditRow | undefined;
      return row ? eventOf(row) : undefined;
    },

    async list(scope, filter, afterPosition, limit) {
      const where = ["tenant_id = @tenantId", "position > @after"];
      const params: Record<string, unknown> = { tenantId: tenantOf(scope), after: positionNumber(afterPosition), limit: checkLimit(limit) + 1 };
      addFilter(where, params, filter);
      const rows = db.prepare(`SELECT ${COLUMNS} FROM audit_events WHERE ${where.join(" AND ")} ORDER BY position LIMIT @limit`).all(params) as AuditRow[];
      const page = rows.slice(0, limit).map(eventOf);
      return rows.length > limit ? { events: page, resumeAfter: page.at(-1)!.position } : { events: page };
    },

    async range(scope, fromPosition, toPosition, limit) {
      const rows = rangeRows.all(tenantOf(scope), positionNumber(fromPosition), positionNumber(toPosition), checkLimit(limit)) as AuditRow[];
      return rows.map(eventOf);
    },

    async insertCheckpoint(scope, checkpoint: AuditCheckpoint) {
      const row = checkpointRowOf(tenantOf(scope), checkpoint);
      const r = insertCp.run({ ...row, headHash: Buffer.from(row.headHash), signature: Buffer.from(row.signature) });
      return r.changes === 1;
    },

    async checkpoints(scope, fromPosition, toPosition) {
      return (cpRange.all(tenantOf(scope), positionNumber(fromPosition), positionNumber(toPosition)) as CheckpointRow[]).map(checkpointOf);
    },

    async checkpointAtOrBefore(scope, position) {
      const row = cpBefore.get(tenantOf(scope), positionNumber(position)) as CheckpointRow | undefined;
      return row ? checkpointOf(row) : undefined;
    },

    async insertKey(key: AuditKeyRecord) {
      insertKey.run(key.keyId, Buffer.from(key.publicKey), Buffer.from(key.sealedPrivateKey), key.createTimeMs);
    },

    async listKeys() {
      return (listKeys.all() as { keyId: string; publicKey: Buffer; sealedPrivateKey: Buffer; createTimeMs: number }[]).map((k) => ({
        keyId: k.keyId,
        publicKey: new Uint8Array(k.publicKey),
        sealedPrivateKey: new Uint8Array(k.sealedPrivateKey),
        createTimeMs: k.createTimeMs,
      }));
    },

    ...createSqliteAuditSubjects({ db }),

    async close() {},
  };
}

function addFilter(where: string[], params: Record<string, unknown>, filter: AuditFilter): void {
  const add = (clause: string, name: string, value: unknown): void => {
    where.push(clause);
    params[name] = value;
  };
  const anyOf = (column: string, name: string, ids: string | readonly string[]): void => {
    const list = typeof ids === "string" ? [ids] : ids;
    where.push(`${column} IN (${list.map((_, i) => `@${name}${i}`).join(", ")})`);
    list.forEach((id, i) => (params[`${name}${i}`] = id));
  };
  if (filter.actorId?.length) anyOf("actor_id", "actorId", filter.actorId);
  if (filter.action) add("action = @action", "action", filter.action);
  if (filter.targetId?.length) anyOf("target_id", "targetId", filter.targetId);
  if (filter.startTimeMs !== undefined) add("event_time_ms >= @startTimeMs", "startTimeMs", filter.startTimeMs);
  if (filter.endTimeMs !== undefined) add("event_time_ms < @endTimeMs", "endTimeMs", filter.endTimeMs);
}
