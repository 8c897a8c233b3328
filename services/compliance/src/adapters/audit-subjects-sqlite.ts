import type Database from "better-sqlite3";
import type { AuditSubjectRecord, AuditSubjectStore } from "../ports/audit-subjects.js";
import { tenantOf } from "./audit-rows.js";

type SubjectRow = { userId: string; pseudonym: string; key: Buffer; createTimeMs: number };
const recordOf = (r: SubjectRow): AuditSubjectRecord => ({ userId: r.userId, pseudonym: r.pseudonym, key: new Uint8Array(r.key), createTimeMs: r.createTimeMs });

/**
 * Pseudonym links and erasure markers on compliance's SQLite file (opened with secure_delete, so
 * a deleted link is zeroed in the file; `forgetSubject` then truncates the WAL, whose frames
 * still hold the page as it was).
 */
export function createSqliteAuditSubjects(opts: { db: Database.Database }): AuditSubjectStore {
  const { db } = opts;
  const insert = db.prepare("INSERT OR IGNORE INTO audit_subjects (tenant_id, subject, user_id, pseudonym, key, create_time_ms) VALUES (?, ?, ?, ?, ?, ?)");
  const bySubject = db.prepare("SELECT user_id AS userId, pseudonym, key, create_time_ms AS createTimeMs FROM audit_subjects WHERE tenant_id = ? AND subject = ?");
  const byPseudonym = db.prepare("SELECT user_id AS userId FROM audit_subjects WHERE tenant_id = ? AND pseudonym = ?");
  const remove = db.prepare("DELETE FROM audit_subjects WHERE tenant_id = ? AND subject = ?");
  const mark = db.prepare(`INSERT INTO audit_erased_subjects (tenant_id, subject, erase_time_ms) VALUES (?, ?, ?)
    ON CONFLICT (tenant_id, subject) DO UPDATE SET erase_time_ms = max(erase_time_ms, excluded.erase_time_ms)`);
  const marked = db.prepare("SELECT erase_time_ms AS t FROM audit_erased_subjects WHERE tenant_id = ? AND subject = ?");
  const forget = db.transaction((tenantId: string, subject: string, at: number) => {
    const deleted = remove.run(tenantId, subject).changes > 0;
    mark.run(tenantId, subject, at);
    return deleted;
  });

  return {
    async linkSubject(scope, subject, candidate) {
      const tenantId = tenantOf(scope);
      insert.run(tenantId, subject, candidate.userId, candidate.pseudonym, Buffer.from(candidate.key), candidate.createTimeMs);
      return recordOf(bySubject.get(tenantId, subject) as SubjectRow);
    },

    async subjectOf(scope, subject) {
      const row = bySubject.get(tenantOf(scope), subject) as SubjectRow | undefined;
      return row ? recordOf(row) : undefined;
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

    async forgetSubject(scope, subject, eraseTimeMs) {
      const deleted = forget(tenantOf(scope), subject, eraseTimeMs);
      db.pragma("wal_checkpoint(TRUNCATE)");
      return deleted;
    },

    async erasedAt(scope, subject) {
      const row = marked.get(tenantOf(scope), subject) as { t: number } | undefined;
      return row?.t;
    },
  };
}
