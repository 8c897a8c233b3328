import type Database from "better-sqlite3";
import type { AuditSubjectRecord, AuditSubjectStore } from "../ports/audit-subjects.js";
import { tenantOf } from "./audit-rows.js";

const SUBJECT_COLUMNS = "user_id AS userId, pseudonym, key, create_time_ms AS createTimeMs";

type SubjectRow = { userId: string; pseudonym: string; key: Buffer; createTimeMs: number };
const subjectOfRow = (r: SubjectRow): AuditSubjectRecord => ({ userId: r.userId, pseudonym: r.pseudonym, key: new Uint8Array(r.key), createTimeMs: r.createTimeMs });

/**
 * Pseudonym links and erasure markers on compliance's SQLite file (opened with secure_delete, so
 * a deleted link is zeroed in the file; `forgetSubject` then truncates the WAL, whose frames
 * still hold the page as it was).
 */
export function createSqliteAuditSubjects(opts: { db: Database.Database }): AuditSubjectStore {
  const { db } = opts;
  const insert = db.prepare("INSERT OR IGNORE INTO audit_subjects (tenant_id, user_id, pseudonym, key, create_time_ms) VALUES (?, ?, ?, ?, ?)");
  const byUser = db.prepare(`SELECT ${SUBJECT_COLUMNS} FROM audit_subjects WHERE tenant_id = ? AND user_id = ?`);
  const byPseudonym = db.prepare("SELECT user_id AS userId FROM audit_subjects WHERE tenant_id = ? AND pseudonym = ?");
  const remove = db.prepare("DELETE FROM audit_subjects WHERE tenant_id = ? AND user_id = ?");
  const mark = db.prepare(`INSERT INTO audit_erased_subjects (tenant_id, marker, erase_time_ms) VALUES (?, ?, ?)
    ON CONFLICT (tenant_id, marker) DO UPDATE SET erase_time_ms = max(erase_time_ms, excluded.erase_time_ms)`);
  const marked = db.prepare("SELECT erase_time_ms AS t FROM audit_erased_subjects WHERE tenant_id = ? AND marker = ?");
  const forget = db.transaction((tenantId: string, userId: string, marker: string, at: number) => {
    const deleted = remove.run(tenantId, userId).changes > 0;
    mark.run(tenantId, marker, at);
    return deleted;
  });

  return {
    async linkSubject(scope, candidate) {
      const tenantId = tenantOf(scope);
      insert.run(tenantId, candidate.userId, candidate.pseudonym, Buffer.from(candidate.key), candidate.createTimeMs);
      return subjectOfRow(byUser.get(tenantId, candidate.userId) as SubjectRow);
    },

    async subjectOf(scope, userId) {
      const row = byUser.get(tenantOf(scope), userId) as SubjectRow | undefined;
      return row ? subjectOfRow(row) : undefined;
    },

    async usersOf(scope, pseudonyms) {
      const tenantId = tenantOf(scope);
      const found = new Map<string, string>();
      for (const p of new Set(pseudonyms)) {
        const row = byPseudonym.get(tenantId, p) as { userId: string } | undefined;
        if (row) found.set(p, row.userId);
      }
      return found;
    },

    async forgetSubject(scope, userId, marker, eraseTimeMs) {
      const deleted = forget(tenantOf(scope), userId, marker, eraseTimeMs);
      db.pragma("wal_checkpoint(TRUNCATE)");
      return deleted;
    },

    async erasedAt(scope, marker) {
      const row = marked.get(tenantOf(scope), marker) as { t: number } | undefined;
      return row?.t;
    },
  };
}
