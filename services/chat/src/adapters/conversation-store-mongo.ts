import type { Filter } from "mongodb";
import type { JsonObject } from "@bufbuild/protobuf";
import { isMongoDuplicateKeyError } from "@caas/shared/mongo";
import type { ActivityQuery, ChangeQuery, ConversationRecord, ConversationStore, EventSummary, MessageSummaryRecord, NewConversation, ScanQuery, SettingsChange } from "../ports/conversation-store.js";
import { chatCollections, MAJORITY, type ChatMongoOptions } from "./chat-mongo.js";
import { checkActivityQuery, checkChangeQuery, checkConversation, checkEventSummary, checkScanQuery, checkSettingsChange } from "./conversation-checks.js";
import { checkId, checkIds, checkSeq, checkSeqs, tenantOf } from "./checks.js";

interface ConversationDoc {
  /** `<tenant>|<id>`: tenant ids and conversation ids contain no "|". */
  _id: string;
  tenantId: string;
  id: string;
  kind: string;
  title: string;
  avatarUrl: string;
  /** JSON text: Struct keys may hold "." or "$", which documents cannot. */
  custom: string | null;
  createdBy: string;
  createTimeMs: number;
  updateTimeMs: number;
  archived: boolean;
  frozen: boolean;
  joinPolicy: string;
  /** The pair key of DIRECT conversations; "~" + id for the others. */
  directKey: string;
  lastSeq: number;
  countableSeq: number;
  activityMs: number;
  changeMs: number;
  lastMessageSeq: number;
  lastMessage: MessageSummaryRecord | null;
  settingsSeq: number;
  /** 0 while the conversation exists. */
  deletedSeq: number;
  /** End-to-end encrypted; absent in documents written before the field existed (false). */
  e2ee?: boolean;
}

/**
 * The cluster-mode ConversationStore: one document per conversation, `_id` led by the tenant, a
 * unique index on (tenantId, directKey) deciding between concurrent creations of one DIRECT
 * pair. The log projection moves with `$max` (and a conditional `$set` for the last message), so
 * any number of instances may record events in any order. That relies on single-document updates
 * being atomic, as they are on MongoDB. FerretDB 1.x (the test engine) applies them
 * read-modify-write, so there two concurrent writers can leave a field one event behind until the
 * next event moves it again; conversation views take the head from the log itself, and GetChanges'
 * overlap window covers the lag.
 */
export function createMongoConversationStore(opts: ChatMongoOptions): ConversationStore {
  const conversations = opts.db.collection<ConversationDoc>(chatCollections(opts.collectionPrefix).conversations, MAJORITY);
  const docId = (tenantId: string, id: string) => `${tenantId}|${id}`;

  return {
    async create(scope, input: NewConversation) {
      const tenantId = tenantOf(scope);
      checkConversation(input);
      const doc: ConversationDoc = {
        _id: docId(tenantId, input.id),
        tenantId,
        id: input.id,
        kind: input.kind,
        title: input.title,
        avatarUrl: input.avatarUrl,
        custom: input.custom === undefined ? null : JSON.stringify(input.custom),
        createdBy: input.createdBy,
        createTimeMs: input.createTimeMs,
        updateTimeMs: input.createTimeMs,
        archived: false,
        frozen: false,
        joinPolicy: input.joinPolicy,
        directKey: input.directKey ?? `~${input.id}`,
        lastSeq: 0,
        countableSeq: 0,
        activityMs: input.createTimeMs,
        changeMs: input.createTimeMs,
        lastMessageSeq: 0,
        lastMessage: null,
        settingsSeq: 0,
        deletedSeq: 0,
        ...(input.e2ee === true ? { e2ee: true } : {}),
      };
      try {
        await conversations.insertOne(doc);
        return { created: true, conversation: toRecord(doc) };
      } catch (err) {
        if (!isMongoDuplicateKeyError(err) || input.directKey === undefined) throw err;
      }
      const existing = await conversations.findOne({ tenantId, directKey: input.directKey });
      if (!existing) throw new Error(`conversation ${input.id}: duplicate key, but no conversation holds its direct key`);
      return { created: false, conversation: toRecord(existing) };
    },

    async get(scope, id) {
      const doc = await conversations.findOne({ _id: docId(tenantOf(scope), checkId("id", id)) });
      return doc ? toRecord(doc) : undefined;
    },

    async getMany(scope, ids) {
      const tenantId = tenantOf(scope);
      const list = checkIds("ids", ids, 1000);
      if (list.length === 0) return [];
      const docs = await conversations.find({ _id: { $in: list.map((id) => docId(tenantId, id)) } }).toArray();
      return docs.map(toRecord);
    },

    async recordEvent(scope, id, event: EventSummary) {
      const _id = docId(tenantOf(scope), checkId("id", id));
      checkEventSummary(event);
      const $max = {
        lastSeq: event.seq,
        countableSeq: event.countableSeq,
        changeMs: event.timeMs,
        ...(event.activity ? { activityMs: event.timeMs } : {}),
      };
      // A new message is normally the newest: one write moves the counters and the last message
      // together. Only when a newer last message is already there do the counters move alone.
      if (event.lastMessage) {
        const res = await conversations.updateOne({ _id, lastMessageSeq: { $lt: event.seq } }, { $max, $set: { lastMessageSeq: event.seq, lastMessage: { ...event.lastMessage } } });
        if (res.matchedCount > 0) return;
      }
      await conversations.updateOne({ _id }, { $max });
    },

    async redactLastMessage(scope, id, seqs) {
      const _id = docId(tenantOf(scope), checkId("id", id));
      if (checkSeqs("seqs", seqs, 1000).length === 0) return;
      await conversations.updateOne(
        { _id, lastMessageSeq: seqs.length === 1 ? seqs[0]! : { $in: seqs }, lastMessage: { $ne: null } },
        { $set: { "lastMessage.textPreview": "", "lastMessage.attachmentCount": 0, "lastMessage.deleted": true } },
      );
    },

    async replacePreview(scope, id, seq, text) {
      const _id = docId(tenantOf(scope), checkId("id", id));
      await conversations.updateOne({ _id, lastMessageSeq: checkSeq("seq", seq), lastMessage: { $ne: null }, "lastMessage.deleted": { $ne: true } }, { $set: { "lastMessage.textPreview": text } });
    },

    async resetLastMessage(scope, id) {
      const _id = docId(tenantOf(scope), checkId("id", id));
      const doc = await conversations.findOne({ _id });
      if (!doc) return;
      // The creation time never changes, so reading it first races with nothing.
      await conversations.updateOne({ _id }, { $set: { lastMessageSeq: 0, lastMessage: null, activityMs: doc.createTimeMs } });
    },

    async applySettings(scope, id, change: SettingsChange) {
      const _id = docId(tenantOf(scope), checkId("id", id));
      checkSettingsChange(change);
      if (change.deleted) {
        await conversations.updateOne({ _id, deletedSeq: 0 }, { $set: { deletedSeq: change.seq } });
        return;
      }
      const set: Partial<ConversationDoc> = { settingsSeq: change.seq };
      if (change.title !== undefined) set.title = change.title;
      if (change.avatarUrl !== undefined) set.avatarUrl = change.avatarUrl;
      if (change.custom !== undefined) set.custom = change.custom === null ? null : JSON.stringify(change.custom);
      if (change.joinPolicy !== undefined) set.joinPolicy = change.joinPolicy;
      if (change.archived !== undefined) set.archived = change.archived;
      if (change.frozen !== undefined) set.frozen = change.frozen;
      await conversations.updateOne({ _id, settingsSeq: { $lt: change.seq } }, { $set: set, $max: { updateTimeMs: change.timeMs } });
    },

    async listByActivity(scope, query: ActivityQuery) {
      const tenantId = tenantOf(scope);
      checkActivityQuery(query);
      if (query.ids.length === 0) return [];
      const filter: Filter<ConversationDoc> = { tenantId, _id: { $in: query.ids.map((id) => docId(tenantId, id)) }, deletedSeq: 0 };
      if (query.after) filter.$or = [{ activityMs: { $lt: query.after.activityMs } }, { activityMs: query.after.activityMs, id: { $lt: query.after.id } }];
      if (query.kind) filter.kind = query.kind;
      if (!query.includeArchived) filter.archived = false;
      const docs = await conversations.find(filter).sort({ activityMs: -1, id: -1 }).limit(query.limit).toArray();
      return docs.map(toRecord);
    },

    async listByChange(scope, query: ChangeQuery) {
      const tenantId = tenantOf(scope);
      checkChangeQuery(query);
      if (query.ids.length === 0) return [];
      const and: Filter<ConversationDoc>[] = [{ tenantId, _id: { $in: query.ids.map((id) => docId(tenantId, id)) } }];
      if (query.changedAfterMs !== undefined) and.push({ changeMs: { $gt: query.changedAfterMs } });
      if (query.after) and.push({ $or: [{ changeMs: { $gt: query.after.changeMs } }, { changeMs: query.after.changeMs, id: { $gt: query.after.id } }] });
      const docs = await conversations.find({ $and: and }).sort({ changeMs: 1, id: 1 }).limit(query.limit).toArray();
      return docs.map(toRecord);
    },

    async scan(scope, query: ScanQuery) {
      const tenantId = tenantOf(scope);
      checkScanQuery(query);
      // `_id` is "<tenant>|<id>", so the _id index alone serves the tenant's range in id order
      // ("}" sorts right after "|", closing the tenant's range).
      const docs = await conversations
        .find({ _id: { $gt: docId(tenantId, query.afterId ?? ""), $lt: `${tenantId}}` }, tenantId, deletedSeq: 0 })
        .sort({ _id: 1 })
        .limit(query.limit)
        .toArray();
      return docs.map(toRecord);
    },

    async close() {},
  };
}

function toRecord(d: ConversationDoc): ConversationRecord {
  return {
    id: d.id,
    kind: d.kind as ConversationRecord["kind"],
    title: d.title,
    avatarUrl: d.avatarUrl,
    ...(d.custom === null ? {} : { custom: JSON.parse(d.custom) as JsonObject }),
    createdBy: d.createdBy,
    createTimeMs: d.createTimeMs,
    joinPolicy: d.joinPolicy as ConversationRecord["joinPolicy"],
    ...(d.e2ee === true ? { e2ee: true } : {}),
    ...(d.directKey.startsWith("~") ? {} : { directKey: d.directKey }),
    updateTimeMs: d.updateTimeMs,
    archived: d.archived,
    frozen: d.frozen,
    lastSeq: d.lastSeq,
    countableSeq: d.countableSeq,
    activityMs: d.activityMs,
    changeMs: d.changeMs,
    ...(d.lastMessage === null ? {} : { lastMessage: { ...d.lastMessage } }),
    settingsSeq: d.settingsSeq,
    deletedSeq: d.deletedSeq,
  };
}
