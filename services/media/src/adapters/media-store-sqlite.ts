import type Database from "better-sqlite3";
import { AlreadyExistsError } from "@caas/shared/errors";
import type { MediaRecord, MediaStore } from "../ports/media-store.js";
import { checkBlobKeyField, checkCount, checkId, checkIdList, checkLimit, checkNewRecord, checkSweepLimit, tenantOf } from "./checks.js";

interface Row {
  id: string;
  owner_id: string;
  name: string;
  mime_type: string;
  max_bytes: number;
  size_bytes: number;
  state: string;
  create_time_ms: number;
  ready_time_ms: number;
  delete_time_ms: number;
  blob_key: string;
}

const COLUMNS = "id, owner_id, name, mime_type, max_bytes, size_bytes, state, create_time_ms, ready_time_ms, delete_time_ms, blob_key";

/** The embedded MediaStore: `media` and `media_links` in media's SQLite file (openMediaSqlite). Single machine only. */
export function createSqliteMediaStore(opts: { db: Database.Database }): MediaStore {
  const { db } = opts;
  const insert = db.prepare(`INSERT INTO media (tenant_id, ${COLUMNS}) VALUES (@tenantId, @id, @ownerId, @name, @mimeType, @maxBytes, 0, 'pending', @createTimeMs, 0, 0, '') ON CONFLICT DO NOTHING`);
  const one = db.prepare<[string, string], Row>(`SELECT ${COLUMNS} FROM media WHERE tenant_id = ? AND id = ?`);
  const ready = db.prepare("UPDATE media SET state = 'ready', size_bytes = ?, ready_time_ms = ?, blob_key = ? WHERE tenant_id = ? AND id = ? AND state = 'pending' AND delete_time_ms = 0");
  const remove = db.prepare("UPDATE media SET delete_time_ms = ? WHERE tenant_id = ? AND id = ? AND delete_time_ms = 0");
  const linkOne = db.prepare("INSERT INTO media_links (tenant_id, media_id, conversation_id, link_time_ms) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING");
  const linkMany = db.transaction((tenantId: string, conversationId: string, ids: string[], time: number) => {
    for (const id of ids) linkOne.run(tenantId, id, conversationId, time);
  });
  const unlinkOne = db.prepare("DELETE FROM media_links WHERE tenant_id = ? AND media_id = ? AND conversation_id = ?");
  const unlinkMany = db.transaction((tenantId: string, conversationId: string, ids: string[]) => {
    for (const id of ids) unlinkOne.run(tenantId, id, conversationId);
  });
  const isLinked = db.prepare<[string, string, string], { media_id: string }>("SELECT media_id FROM media_links WHERE tenant_id = ? AND conversation_id = ? AND media_id = ?");
  const openUploads = db.prepare<[number, number], Row & { tenant_id: string }>(
    `SELECT tenant_id, ${COLUMNS} FROM media WHERE upload_open = 1 AND create_time_ms < ? ORDER BY create_time_ms, tenant_id, id LIMIT ?`,
  );
  const removeAbandoned = db.prepare("DELETE FROM media WHERE tenant_id = ? AND id = ? AND state = 'pending' AND delete_time_ms = 0 AND create_time_ms < ?");
  const closeUpload = db.prepare("UPDATE media SET upload_open = 0 WHERE tenant_id = ? AND id = ? AND upload_open = 1");
  const conversations = db.prepare<[string, string, string, number], { conversation_id: string }>(
    "SELECT conversation_id FROM media_links WHERE tenant_id = ? AND media_id = ? AND conversation_id > ? ORDER BY conversation_id LIMIT ?",
  );
  const removeRow = db.prepare("DELETE FROM media WHERE tenant_id = ? AND id = ?");
  const removeLinks = db.prepare("DELETE FROM media_links WHERE tenant_id = ? AND media_id = ?");
  const removeForGood = db.transaction((tenantId: string, id: string) => {
    removeLinks.run(tenantId, id);
    return removeRow.run(tenantId, id).changes === 1;
  });
  const byTenant = db.prepare<[string, number], Row>(`SELECT ${COLUMNS} FROM media WHERE tenant_id = ? LIMIT ?`);
  const byOwner = db.prepare<[string, string, string, number], Row>(`SELECT ${COLUMNS} FROM media WHERE tenant_id = ? AND owner_id = ? AND id > ? ORDER BY id LIMIT ?`);

  return {
    async create(scope, record) {
      const tenantId = tenantOf(scope);
      checkNewRecord(record);
      if (insert.run({ tenantId, ...record }).changes === 0) throw new AlreadyExistsError(`media ${record.id} already exists`);
    },

    async get(scope, id) {
      const row = one.get(tenantOf(scope), checkId("id", id));
      return row ? toRecord(row) : undefined;
    },

    async getMany(scope, ids) {
      const tenantId = tenantOf(scope);
      const list = checkIdList("ids", ids);
      if (list.length === 0) return [];
      const rows = db.prepare<unknown[], Row>(`SELECT ${COLUMNS} FROM media WHERE tenant_id = ? AND id IN (${list.map(() => "?").join(", ")})`).all(tenantId, ...list);
      return rows.map(toRecord);
    },

    async markReady(scope, id, r) {
      const tenantId = tenantOf(scope);
      checkId("id", id);
      ready.run(checkCount("sizeBytes", r.sizeBytes), checkCount("readyTimeMs", r.readyTimeMs), checkBlobKeyField(r.blobKey), tenantId, id);
      const row = one.get(tenantId, id);
      return row ? toRecord(row) : undefined;
    },

    async markDeleted(scope, id, deleteTimeMs) {
      const tenantId = tenantOf(scope);
      checkId("id", id);
      remove.run(checkCount("deleteTimeMs", deleteTimeMs), tenantId, id);
      return one.get(tenantId, id) !== undefined;
    },

    async link(scope, conversationId, mediaIds, linkTimeMs) {
      const tenantId = tenantOf(scope);
      linkMany(tenantId, checkId("conversationId", conversationId), checkIdList("mediaIds", mediaIds), checkCount("linkTimeMs", linkTimeMs));
    },

    async unlink(scope, conversationId, mediaIds) {
      const tenantId = tenantOf(scope);
      unlinkMany(tenantId, checkId("conversationId", conversationId), checkIdList("mediaIds", mediaIds));
    },

    async linkedTo(scope, conversationId, mediaIds) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", conversationId);
      const found = new Set<string>();
      for (const id of checkIdList("mediaIds", mediaIds)) if (isLinked.get(tenantId, conversationId, id)) found.add(id);
      return found;
    },

    async linkedConversations(scope, mediaId, query) {
      const tenantId = tenantOf(scope);
      const after = query.after === undefined ? "" : checkId("after", query.after);
      return conversations.all(tenantId, checkId("mediaId", mediaId), after, checkLimit(query.limit)).map((r) => r.conversation_id);
    },

    async ofOwner(scope, ownerId, query) {
      const after = query.after === undefined ? "" : checkId("after", query.after);
      return byOwner.all(tenantOf(scope), checkId("ownerId", ownerId), after, checkLimit(query.limit)).map(toRecord);
    },

    async ofTenant(scope, limit) {
      return byTenant.all(tenantOf(scope), checkLimit(limit)).map(toRecord);
    },

    async remove(scope, id) {
      return removeForGood(tenantOf(scope), checkId("id", id));
    },

    async uploadsToSweep(query) {
      const rows = openUploads.all(checkCount("createdBefore", query.createdBefore), checkSweepLimit(query.limit));
      return rows.map((r) => ({ tenantId: r.tenant_id, record: toRecord(r) }));
    },

    async removeAbandoned(scope, id, createdBefore) {
      return removeAbandoned.run(tenantOf(scope), checkId("id", id), checkCount("createdBefore", createdBefore)).changes === 1;
    },

    async closeUpload(scope, id) {
      closeUpload.run(tenantOf(scope), checkId("id", id));
    },

    async close() {},
  };
}

function toRecord(r: Row): MediaRecord {
  return {
    id: r.id,
    ownerId: r.owner_id,
    name: r.name,
    mimeType: r.mime_type,
    maxBytes: r.max_bytes,
    sizeBytes: r.size_bytes,
    state: r.state === "ready" ? "ready" : "pending",
    createTimeMs: r.create_time_ms,
    readyTimeMs: r.ready_time_ms,
    deleteTimeMs: r.delete_time_ms,
    blobKey: r.blob_key,
  };
}
