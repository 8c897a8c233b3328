import type Database from "better-sqlite3";
import type { RevocationKind } from "@caas/shared/identity/revocations";
import type { RevocationStore, StoredRevocation } from "../ports/revocation-store.js";
import { checkId, checkLimit, checkTime } from "./checks.js";
import { checkRevocation } from "./revocation-checks.js";

interface Row {
  id: string;
  kind: string;
  tenant_id: string;
  subject_id: string;
  revoke_time_ms: number;
  expire_time_ms: number;
}

/**
 * The embedded RevocationStore on the auth database (`openAuthSqlite`, table `revocations`); the
 * caller owns and closes the database. Expired rows are deleted by `list`.
 */
export function createSqliteRevocationStore(opts: { db: Database.Database }): RevocationStore {
  const { db } = opts;
  const insert = db.prepare("INSERT OR IGNORE INTO revocations (id, kind, tenant_id, subject_id, revoke_time_ms, expire_time_ms) VALUES (?, ?, ?, ?, ?, ?)");
  const sweep = db.prepare("DELETE FROM revocations WHERE expire_time_ms <= ?");
  const page = db.prepare<[string, number, number], Row>("SELECT * FROM revocations WHERE id > ? AND expire_time_ms > ? ORDER BY id LIMIT ?");

  return {
    async add(r) {
      checkRevocation(r);
      insert.run(r.id, r.kind, r.tenantId, r.subjectId, r.revokeTimeMs, r.expireTimeMs);
    },

    async list(q) {
      const nowMs = checkTime("nowMs", q.nowMs);
      const after = q.afterId === undefined ? "" : checkId("afterId", q.afterId, 64);
      sweep.run(nowMs);
      return page.all(after, nowMs, checkLimit(q.limit)).map(fromRow);
    },

    async close() {},
  };
}

function fromRow(r: Row): StoredRevocation {
  return {
    id: r.id,
    kind: r.kind as RevocationKind,
    tenantId: r.tenant_id,
    subjectId: r.subject_id,
    revokeTimeMs: r.revoke_time_ms,
    expireTimeMs: r.expire_time_ms,
  };
}
