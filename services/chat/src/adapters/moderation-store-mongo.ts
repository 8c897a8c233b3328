import { isMongoDuplicateKeyError } from "@caas/shared/mongo";
import type { ModerationStore, RestrictionRecord } from "../ports/moderation-store.js";
import { MAJORITY, type ChatMongoOptions } from "./chat-mongo.js";
import { checkId, tenantOf } from "./checks.js";
import { moderationCollections } from "./moderation-schema.js";
import { checkRestriction, checkRestrictionKind, checkRestrictionQuery } from "./moderation-checks.js";

interface RestrictionDoc extends RestrictionRecord {
  /** `<tenant>|<conversation>|<user>|<kind>`: none of them contains "|". */
  _id: string;
  tenantId: string;
}

/**
 * The cluster-mode ModerationStore: one document per (conversation, user, kind), `_id` led by the
 * tenant; a change is an insert or one conditional update on `seq`, so writers end in log order
 * without transactions (on FerretDB 1.x two changes of one row at the same instant may not).
 */
export function createMongoModerationStore(opts: ChatMongoOptions): ModerationStore {
  const docs = opts.db.collection<RestrictionDoc>(moderationCollections(opts.collectionPrefix).moderation, MAJORITY);
  const docId = (tenantId: string, r: { conversationId: string; userId: string; kind: string }) => `${tenantId}|${r.conversationId}|${r.userId}|${r.kind}`;

  return {
    async put(scope, r) {
      const tenantId = tenantOf(scope);
      checkRestriction(r);
      const _id = docId(tenantId, r);
      const fields: RestrictionRecord = { ...r };
      try {
        await docs.insertOne({ _id, tenantId, ...fields });
        return true;
      } catch (err) {
        if (!isMongoDuplicateKeyError(err)) throw err;
        const res = await docs.updateOne({ _id, seq: { $lt: r.seq } }, { $set: fields });
        return res.modifiedCount === 1;
      }
    },

    async get(scope, conversationId, userId, kind) {
      const doc = await docs.findOne({
        _id: docId(tenantOf(scope), { conversationId: checkId("conversationId", conversationId), userId: checkId("userId", userId), kind: checkRestrictionKind(kind) }),
      });
      return doc ? toRecord(doc) : undefined;
    },

    async list(scope, conversationId, kind, query) {
      const tenantId = tenantOf(scope);
      checkRestrictionQuery(query);
      const found = await docs
        .find({ tenantId, conversationId: checkId("conversationId", conversationId), kind: checkRestrictionKind(kind), present: true, userId: { $gt: query.after?.userId ?? "" } })
        .sort({ userId: 1 })
        .limit(query.limit)
        .toArray();
      return found.map(toRecord);
    },

    async close() {},
  };
}

function toRecord(d: RestrictionDoc): RestrictionRecord {
  return {
    conversationId: d.conversationId,
    userId: d.userId,
    kind: d.kind,
    present: d.present,
    expireTimeMs: d.expireTimeMs,
    reason: d.reason,
    actorId: d.actorId,
    seq: d.seq,
    timeMs: d.timeMs,
  };
}
