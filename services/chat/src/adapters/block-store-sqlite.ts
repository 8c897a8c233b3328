import type Database from "better-sqlite3";
import type { BlockRecord, BlockStore } from "../ports/block-store.js";
import { checkId, tenantOf } from "./checks.js";
import { checkBlock, checkBlockQuery } from "./moderation-checks.js";

interface Row {
  blocker_id: string;
  blocked_id: string;
  create_time_ms: number;
}

/** The embedded BlockStore: `blocks` in chat's SQLite file, keyed by (tenant, blocker, blocked). Single machine only. */
export function createSqliteBlockStore(opts: { db: Database.Database }): BlockStore {
  const { db } = opts;
  const insert = db.prepare("INSERT INTO blocks (tenant_id, blocker_id, blocked_id, create_time_ms) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING");
  const one = db.prepare<[string, string, string], Row>("SELECT blocker_id, blocked_id, create_time_ms FROM blocks WHERE tenant_id = ? AND blocker_id = ? AND blocked_id = ?");
  const remove = db.prepare("DELETE FROM blocks WHERE tenant_id = ? AND blocker_id = ? AND blocked_id = ?");
  const either = db.prepare<[string, string, string, string, string], { n: number }>(
    "SELECT count(*) AS n FROM blocks WHERE tenant_id = ? AND ((blocker_id = ? AND blocked_id = ?) OR (blocker_id = ? AND blocked_id = ?))",
  );
  const page = db.prepare<Record<string, unknown>, Row>(
    `SELECT blocker_id, blocked_id, create_time_ms FROM blocks
     WHERE tenant_id = @tenantId AND blocker_id = @blockerId
       AND (@first = 1 OR create_time_ms < @afterTime OR (create_time_ms = @afterTime AND blocked_id < @afterId))
     ORDER BY create_time_ms DESC, blocked_id DESC LIMIT @limit`,
  );

  return {
    async block(scope, record) {
      const tenantId = tenantOf(scope);
      checkBlock(record);
      insert.run(tenantId, record.blockerId, record.blockedId, record.createTimeMs);
      return toRecord(one.get(tenantId, record.blockerId, record.blockedId)!);
    },

    async unblock(scope, blockerId, blockedId) {
      return remove.run(tenantOf(scope), checkId("blockerId", blockerId), checkId("blockedId", blockedId)).changes === 1;
    },

    async between(scope, a, b) {
      checkId("a", a);
      checkId("b", b);
      return either.get(tenantOf(scope), a, b, b, a)!.n > 0;
    },

    async list(scope, blockerId, query) {
      const tenantId = tenantOf(scope);
      checkBlockQuery(query);
      return page
        .all({
          tenantId,
          blockerId: checkId("blockerId", blockerId),
          first: query.after ? 0 : 1,
          afterTime: query.after?.createTimeMs ?? 0,
          afterId: query.after?.blockedId ?? "",
          limit: query.limit,
        })
        .map(toRecord);
    },

    async close() {},
  };
}

function toRecord(r: Row): BlockRecord {
  return { blockerId: r.blocker_id, blockedId: r.blocked_id, createTimeMs: r.create_time_ms };
}
