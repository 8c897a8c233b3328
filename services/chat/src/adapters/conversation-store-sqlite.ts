import type Database from "better-sqlite3";
import type { JsonObject } from "@bufbuild/protobuf";
import type { ActivityQuery, ChangeQuery, ConversationRecord, ConversationStore, EventSummary, MessageSummaryRecord, NewConversation, ScanQuery, SettingsChange } from "../ports/conversation-store.js";
import { idList, jsonOrNull } from "./chat-sqlite.js";
import { checkConversation, checkEventSummary, checkActivityQuery, checkChangeQuery, checkScanQuery, checkSettingsChange } from "./conversation-checks.js";
import { checkId, checkIds, checkSeq, checkSeqs, tenantOf } from "./checks.js";

interface Row {
  id: string;
  kind: string;
  title: string;
  avatar_url: string;
  custom: string | null;
  created_by: string;
  create_time_ms: number;
  update_time_ms: number;
  archived: number;
  frozen: number;
  join_policy: string;
  direct_key: string;
  last_seq: number;
  countable_seq: number;
  activity_ms: number;
  change_ms: number;
  last_message: string | null;
  settings_seq: number;
  deleted_seq: number;
  e2ee: number;
}

const COLUMNS =
  "id, kind, title, avatar_url, custom, created_by, create_time_ms, update_time_ms, archived, frozen, join_policy, direct_key, last_seq, countable_seq, activity_ms, change_ms, last_message, settings_seq, deleted_seq, e2ee";

/**
 * The embedded ConversationStore: rows of `conversations` in chat's SQLite file (see
 * openChatSqlite), keyed by (tenant_id, id) with a unique (tenant_id, direct_key). Every
 * statement is synchronous (no transaction spans an await). Single machine only.
 */
export function createSqliteConversationStore(opts: { db: Database.Database }): ConversationStore {
  const { db } = opts;
  const insert = db.prepare(
    `INSERT INTO conversations (tenant_id, id, kind, title, avatar_url, custom, created_by, create_time_ms, update_time_ms, join_policy, direct_key, activity_ms, change_ms, e2ee)
     VALUES (@tenantId, @id, @kind, @title, @avatarUrl, @custom, @createdBy, @createTimeMs, @createTimeMs, @joinPolicy, @directKey, @createTimeMs, @createTimeMs, @e2ee)
     ON CONFLICT DO NOTHING`,
  );
  const byId = db.prepare<[string, string], Row>(`SELECT ${COLUMNS} FROM conversations WHERE tenant_id = ? AND id = ?`);
  const byDirectKey = db.prepare<[string, string], Row>(`SELECT ${COLUMNS} FROM conversations WHERE tenant_id = ? AND direct_key = ?`);
  const byIds = db.prepare<[string, string], Row>(`SELECT ${COLUMNS} FROM conversations WHERE tenant_id = ? AND id IN (SELECT value FROM json_each(?))`);
  const forward = db.prepare(
    `UPDATE conversations SET
       last_seq = MAX(last_seq, @seq),
       countable_seq = MAX(countable_seq, @countableSeq),
       activity_ms = CASE WHEN @activity = 1 THEN MAX(activity_ms, @timeMs) ELSE activity_ms END,
       change_ms = MAX(change_ms, @timeMs)
     WHERE tenant_id = @tenantId AND id = @id`,
  );
  const lastMessage = db.prepare("UPDATE conversations SET last_message_seq = @seq, last_message = @summary WHERE tenant_id = @tenantId AND id = @id AND last_message_seq < @seq");
  const settings = db.prepare(
    `UPDATE conversations SET
       title = CASE WHEN @setTitle = 1 THEN @title ELSE title END,
       avatar_url = CASE WHEN @setAvatar = 1 THEN @avatarUrl ELSE avatar_url END,
       custom = CASE WHEN @setCustom = 1 THEN @custom ELSE custom END,
       join_policy = CASE WHEN @setPolicy = 1 THEN @joinPolicy ELSE join_policy END,
       archived = CASE WHEN @setArchived = 1 THEN @archived ELSE archived END,
       frozen = CASE WHEN @setFrozen = 1 THEN @frozen ELSE frozen END,
       update_time_ms = MAX(update_time_ms, @timeMs),
       settings_seq = @seq
     WHERE tenant_id = @tenantId AND id = @id AND settings_seq < @seq`,
  );
  const redactLast = db.prepare(
    `UPDATE conversations SET last_message = json_set(last_message, '$.textPreview', '', '$.attachmentCount', 0, '$.deleted', json('true'))
     WHERE tenant_id = @tenantId AND id = @id AND last_message_seq = @seq AND last_message IS NOT NULL`,
  );
  const replacePreview = db.prepare(
    `UPDATE conversations SET last_message = json_set(last_message, '$.textPreview', @text)
     WHERE tenant_id = @tenantId AND id = @id AND last_message_seq = @seq AND last_message IS NOT NULL AND coalesce(json_extract(last_message, '$.deleted'), 0) = 0`,
  );
  const resetLast = db.prepare("UPDATE conversations SET last_message_seq = 0, last_message = NULL, activity_ms = create_time_ms WHERE tenant_id = @tenantId AND id = @id");
  // The primary key (tenant_id, id) serves the scan in id order.
  const scanAfter = db.prepare<[string, string, number], Row>(`SELECT ${COLUMNS} FROM conversations WHERE tenant_id = ? AND id > ? AND deleted_seq = 0 ORDER BY id LIMIT ?`);
  const markDeleted = db.prepare("UPDATE conversations SET deleted_seq = @seq WHERE tenant_id = @tenantId AND id = @id AND deleted_seq = 0");
  // The list queries vary by filter: one prepared statement per shape, made on first use.
  const shapes = new Map<string, Database.Statement<Record<string, unknown>, Row>>();
  const prepared = (sql: string) => {
    let stmt = shapes.get(sql);
    if (!stmt) shapes.set(sql, (stmt = db.prepare<Record<string, unknown>, Row>(sql)));
    return stmt;
  };
  const record = db.transaction((params: Record<string, unknown>, summary: string | null) => {
    forward.run(params);
    if (summary !== null) lastMessage.run({ ...params, summary });
  });

  return {
    async create(scope, input: NewConversation) {
      const tenantId = tenantOf(scope);
      checkConversation(input);
      const directKey = input.directKey ?? `~${input.id}`;
      const changes = insert.run({
        tenantId,
        id: input.id,
        kind: input.kind,
        title: input.title,
        avatarUrl: input.avatarUrl,
        custom: jsonOrNull(input.custom),
        createdBy: input.createdBy,
        createTimeMs: input.createTimeMs,
        joinPolicy: input.joinPolicy,
        directKey,
        e2ee: input.e2ee === true ? 1 : 0,
      }).changes;
      if (changes === 1) return { created: true, conversation: toRecord(byId.get(tenantId, input.id)!) };
      const existing = input.directKey === undefined ? undefined : byDirectKey.get(tenantId, directKey);
      if (!existing) throw new RangeError(`conversation ${input.id} already exists`);
      return { created: false, conversation: toRecord(existing) };
    },

    async get(scope, id) {
      const row = byId.get(tenantOf(scope), checkId("id", id));
      return row && toRecord(row);
    },

    async getMany(scope, ids) {
      return byIds.all(tenantOf(scope), idList(checkIds("ids", ids, 1000))).map(toRecord);
    },

    async recordEvent(scope, id, event: EventSummary) {
      const tenantId = tenantOf(scope);
      checkId("id", id);
      checkEventSummary(event);
      record({ tenantId, id, seq: event.seq, countableSeq: event.countableSeq, timeMs: event.timeMs, activity: event.activity ? 1 : 0 }, event.lastMessage ? JSON.stringify(event.lastMessage) : null);
    },

    async redactLastMessage(scope, id, seqs) {
      const tenantId = tenantOf(scope);
      checkId("id", id);
      // At most one of them is the last message: the others change nothing.
      for (const seq of checkSeqs("seqs", seqs, 1000)) redactLast.run({ tenantId, id, seq });
    },

    async replacePreview(scope, id, seq, text) {
      replacePreview.run({ tenantId: tenantOf(scope), id: checkId("id", id), seq: checkSeq("seq", seq), text });
    },

    async resetLastMessage(scope, id) {
      resetLast.run({ tenantId: tenantOf(scope), id: checkId("id", id) });
    },

    async applySettings(scope, id, change: SettingsChange) {
      const tenantId = tenantOf(scope);
      checkId("id", id);
      checkSettingsChange(change);
      if (change.deleted) {
        markDeleted.run({ tenantId, id, seq: change.seq });
        return;
      }
      settings.run({
        tenantId,
        id,
        seq: change.seq,
        timeMs: change.timeMs,
        setTitle: change.title === undefined ? 0 : 1,
        title: change.title ?? "",
        setAvatar: change.avatarUrl === undefined ? 0 : 1,
        avatarUrl: change.avatarUrl ?? "",
        setCustom: change.custom === undefined ? 0 : 1,
        custom: change.custom === undefined ? null : jsonOrNull(change.custom ?? undefined),
        setPolicy: change.joinPolicy === undefined ? 0 : 1,
        joinPolicy: change.joinPolicy ?? "",
        setArchived: change.archived === undefined ? 0 : 1,
        archived: change.archived ? 1 : 0,
        setFrozen: change.frozen === undefined ? 0 : 1,
        frozen: change.frozen ? 1 : 0,
      });
    },

    async listByActivity(scope, query: ActivityQuery) {
      const tenantId = tenantOf(scope);
      checkActivityQuery(query);
      const where = ["tenant_id = @tenantId", "id IN (SELECT value FROM json_each(@ids))", "deleted_seq = 0"];
      if (query.after) where.push("(activity_ms < @afterMs OR (activity_ms = @afterMs AND id < @afterId))");
      if (query.kind) where.push("kind = @kind");
      if (!query.includeArchived) where.push("archived = 0");
      const rows = prepared(`SELECT ${COLUMNS} FROM conversations WHERE ${where.join(" AND ")} ORDER BY activity_ms DESC, id DESC LIMIT @limit`).all({
        tenantId,
        ids: idList(query.ids),
        afterMs: query.after?.activityMs ?? 0,
        afterId: query.after?.id ?? "",
        kind: query.kind ?? "",
        limit: query.limit,
      });
      return rows.map(toRecord);
    },

    async listByChange(scope, query: ChangeQuery) {
      const tenantId = tenantOf(scope);
      checkChangeQuery(query);
      const where = ["tenant_id = @tenantId", "id IN (SELECT value FROM json_each(@ids))"];
      if (query.changedAfterMs !== undefined) where.push("change_ms > @changedAfterMs");
      if (query.after) where.push("(change_ms > @afterMs OR (change_ms = @afterMs AND id > @afterId))");
      const rows = prepared(`SELECT ${COLUMNS} FROM conversations WHERE ${where.join(" AND ")} ORDER BY change_ms, id LIMIT @limit`).all({
        tenantId,
        ids: idList(query.ids),
        changedAfterMs: query.changedAfterMs ?? 0,
        afterMs: query.after?.changeMs ?? 0,
        afterId: query.after?.id ?? "",
        limit: query.limit,
      });
      return rows.map(toRecord);
    },

    async scan(scope, query: ScanQuery) {
      const tenantId = tenantOf(scope);
      checkScanQuery(query);
      return scanAfter.all(tenantId, query.afterId ?? "", query.limit).map(toRecord);
    },

    async close() {},
  };
}

function toRecord(r: Row): ConversationRecord {
  return {
    id: r.id,
    kind: r.kind as ConversationRecord["kind"],
    title: r.title,
    avatarUrl: r.avatar_url,
    ...(r.custom === null ? {} : { custom: JSON.parse(r.custom) as JsonObject }),
    createdBy: r.created_by,
    createTimeMs: r.create_time_ms,
    joinPolicy: r.join_policy as ConversationRecord["joinPolicy"],
    ...(r.e2ee === 1 ? { e2ee: true } : {}),
    ...(r.direct_key.startsWith("~") ? {} : { directKey: r.direct_key }),
    updateTimeMs: r.update_time_ms,
    archived: r.archived === 1,
    frozen: r.frozen === 1,
    lastSeq: r.last_seq,
    countableSeq: r.countable_seq,
    activityMs: r.activity_ms,
    changeMs: r.change_ms,
    ...(r.last_message === null ? {} : { lastMessage: JSON.parse(r.last_message) as MessageSummaryRecord }),
    settingsSeq: r.settings_seq,
    deletedSeq: r.deleted_seq,
  };
}
