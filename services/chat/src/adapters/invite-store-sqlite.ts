import type Database from "better-sqlite3";
import type { InviteRecord, InviteStore } from "../ports/invite-store.js";
import { checkId, checkTime, tenantOf } from "./checks.js";
import { checkClaim, checkInvite } from "./invite-checks.js";

interface Row {
  id: string;
  conversation_id: string;
  code_hash: string;
  created_by: string;
  create_time_ms: number;
  expire_time_ms: number;
  max_uses: number;
  revoke_time_ms: number;
}

const COLUMNS = "id, conversation_id, code_hash, created_by, create_time_ms, expire_time_ms, max_uses, revoke_time_ms";

/**
 * The embedded InviteStore: `invites` and `invite_uses` in chat's SQLite file. A use is claimed
 * in one synchronous transaction (count, then insert the next slot), so the limit is exact.
 */
export function createSqliteInviteStore(opts: { db: Database.Database }): InviteStore {
  const { db } = opts;
  const insert = db.prepare(
    `INSERT INTO invites (tenant_id, id, conversation_id, code_hash, created_by, create_time_ms, expire_time_ms, max_uses)
     VALUES (@tenantId, @id, @conversationId, @codeHash, @createdBy, @createTimeMs, @expireTimeMs, @maxUses) ON CONFLICT DO NOTHING`,
  );
  const byId = db.prepare<[string, string], Row>(`SELECT ${COLUMNS} FROM invites WHERE tenant_id = ? AND id = ?`);
  const byCode = db.prepare<[string, string], Row>(`SELECT ${COLUMNS} FROM invites WHERE tenant_id = ? AND code_hash = ?`);
  const revoke = db.prepare("UPDATE invites SET revoke_time_ms = ? WHERE tenant_id = ? AND id = ? AND revoke_time_ms = 0");
  const usedBy = db.prepare<[string, string, string], { slot: number }>("SELECT slot FROM invite_uses WHERE tenant_id = ? AND invite_id = ? AND user_id = ?");
  const uses = db.prepare<[string, string], { n: number }>("SELECT COUNT(*) AS n FROM invite_uses WHERE tenant_id = ? AND invite_id = ?");
  const use = db.prepare("INSERT INTO invite_uses (tenant_id, invite_id, slot, user_id, use_time_ms) VALUES (?, ?, ?, ?, ?)");
  const claim = db.transaction((tenantId: string, inviteId: string, maxUses: number, userId: string, timeMs: number) => {
    if (usedBy.get(tenantId, inviteId, userId)) return "already" as const;
    const n = uses.get(tenantId, inviteId)!.n;
    if (maxUses > 0 && n >= maxUses) return "exhausted" as const;
    use.run(tenantId, inviteId, n + 1, userId, timeMs);
    return "claimed" as const;
  });

  return {
    async create(scope, invite: InviteRecord) {
      const tenantId = tenantOf(scope);
      checkInvite(invite);
      if (insert.run({ tenantId, ...invite }).changes !== 1) throw new RangeError(`invite ${invite.id} or its code already exists`);
    },
    async get(scope, id) {
      const row = byId.get(tenantOf(scope), checkId("id", id));
      return row && toRecord(row);
    },
    async byCodeHash(scope, codeHash) {
      const row = byCode.get(tenantOf(scope), checkId("codeHash", codeHash));
      return row && toRecord(row);
    },
    async revoke(scope, id, timeMs) {
      const tenantId = tenantOf(scope);
      revoke.run(checkTime("timeMs", timeMs), tenantId, checkId("id", id));
      const row = byId.get(tenantId, id);
      return row && toRecord(row);
    },
    async claim(scope, invite, userId, timeMs) {
      const tenantId = tenantOf(scope);
      checkClaim(invite, userId, timeMs);
      return claim(tenantId, invite.id, invite.maxUses, userId, timeMs);
    },
    async useCount(scope, id) {
      return uses.get(tenantOf(scope), checkId("id", id))!.n;
    },
    async close() {},
  };
}

function toRecord(r: Row): InviteRecord {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    codeHash: r.code_hash,
    createdBy: r.created_by,
    createTimeMs: r.create_time_ms,
    expireTimeMs: r.expire_time_ms,
    maxUses: r.max_uses,
    revokeTimeMs: r.revoke_time_ms,
  };
}
