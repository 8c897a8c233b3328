import type { Filter } from "mongodb";
import { isMongoDuplicateKeyError } from "@caas/shared/mongo";
import type { MemberKey, MemberRecord, MemberStore, NewMember, RoleKind } from "../ports/member-store.js";
import { chatCollections, MAJORITY, type ChatMongoOptions } from "./chat-mongo.js";
import { checkId, checkIds, checkRole, checkTime, tenantOf } from "./checks.js";
import { checkEventSeq, checkListQuery, checkNewMember } from "./member-checks.js";

interface MemberDoc extends MemberRecord {
  /** `<tenant>|<conversation>|<user>`: none of them contains "|". */
  _id: string;
  tenantId: string;
}

/**
 * The cluster-mode MemberStore: one document per (conversation, user), `_id` led by the tenant.
 * Every state change is one conditional update on `stateSeq`, so concurrent writers end in log
 * order without transactions (on MongoDB, where a single-document update is atomic; FerretDB 1.x
 * applies updates read-modify-write, so two changes to one membership at the same instant may end
 * out of log order there). Joins of a new member are inserts, atomic everywhere.
 */
export function createMongoMemberStore(opts: ChatMongoOptions): MemberStore {
  const members = opts.db.collection<MemberDoc>(chatCollections(opts.collectionPrefix).members, MAJORITY);
  const docId = (tenantId: string, conversationId: string, userId: string) => `${tenantId}|${conversationId}|${userId}`;

  return {
    async join(scope, member: NewMember) {
      const tenantId = tenantOf(scope);
      checkNewMember(member);
      const _id = docId(tenantId, member.conversationId, member.userId);
      const fields = { ...member, active: true, leftSeq: 0, leftTimeMs: 0, stateSeq: member.joinedSeq };
      try {
        await members.insertOne({ _id, tenantId, ...fields });
      } catch (err) {
        if (!isMongoDuplicateKeyError(err)) throw err;
        await members.updateOne({ _id, active: false, stateSeq: { $lt: member.joinedSeq } }, { $set: fields });
      }
      return toRecord((await members.findOne({ _id }))!);
    },

    async get(scope, conversationId, userId) {
      const doc = await members.findOne({ _id: docId(tenantOf(scope), checkId("conversationId", conversationId), checkId("userId", userId)) });
      return doc ? toRecord(doc) : undefined;
    },

    async getMany(scope, conversationId, userIds) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", conversationId);
      const ids = checkIds("userIds", userIds, 1000);
      if (ids.length === 0) return [];
      const docs = await members.find({ _id: { $in: ids.map((u) => docId(tenantId, conversationId, u)) } }).toArray();
      return docs.map(toRecord);
    },

    async list(scope, conversationId, query: { after?: MemberKey; role?: RoleKind; limit: number }) {
      const tenantId = tenantOf(scope);
      checkId("conversationId", conversationId);
      checkListQuery(query);
      const filter: Filter<MemberDoc> = { tenantId, conversationId, active: true };
      if (query.role) filter.role = query.role;
      if (query.after) {
        filter.$or = [{ joinedSeq: { $gt: query.after.joinedSeq } }, { joinedSeq: query.after.joinedSeq, userId: { $gt: query.after.userId } }];
      }
      const docs = await members.find(filter).sort({ joinedSeq: 1, userId: 1 }).limit(query.limit).toArray();
      return docs.map(toRecord);
    },

    async count(scope, conversationId, role) {
      const filter: Filter<MemberDoc> = { tenantId: tenantOf(scope), conversationId: checkId("conversationId", conversationId), active: true };
      if (role !== undefined) filter.role = checkRole(role);
      return members.countDocuments(filter);
    },

    async countMany(scope, conversationIds) {
      const tenantId = tenantOf(scope);
      const ids = checkIds("conversationIds", [...conversationIds], 1000);
      const counts = new Map(ids.map((id) => [id, 0]));
      if (ids.length === 0) return counts;
      const rows = await members
        .aggregate<{ _id: string; n: number }>([{ $match: { tenantId, conversationId: { $in: ids }, active: true } }, { $group: { _id: "$conversationId", n: { $sum: 1 } } }])
        .toArray();
      for (const row of rows) counts.set(row._id, row.n);
      return counts;
    },

    async leave(scope, conversationId, userId, seq, timeMs) {
      const _id = docId(tenantOf(scope), checkId("conversationId", conversationId), checkId("userId", userId));
      checkEventSeq(seq);
      checkTime("timeMs", timeMs);
      const res = await members.updateOne({ _id, active: true, stateSeq: { $lt: seq } }, { $set: { active: false, leftSeq: seq, leftTimeMs: timeMs, stateSeq: seq } });
      return res.modifiedCount === 1;
    },

    async setRole(scope, conversationId, userId, role, seq) {
      const _id = docId(tenantOf(scope), checkId("conversationId", conversationId), checkId("userId", userId));
      checkRole(role);
      checkEventSeq(seq);
      const res = await members.updateOne({ _id, active: true, stateSeq: { $lt: seq } }, { $set: { role, stateSeq: seq } });
      return res.modifiedCount === 1;
    },

    async ofUser(scope, userId, opts = {}) {
      const tenantId = tenantOf(scope);
      checkId("userId", userId);
      const since = opts.leftAfterMs;
      if (since !== undefined && !Number.isSafeInteger(since)) throw new RangeError("leftAfterMs must be an integer");
      const filter: Filter<MemberDoc> = since === undefined ? { tenantId, userId, active: true } : { tenantId, userId, $or: [{ active: true }, { leftTimeMs: { $gt: since } }] };
      const docs = await members.find(filter).limit(10_000).toArray();
      return docs.map(toRecord);
    },

    async close() {},
  };
}

function toRecord(d: MemberDoc): MemberRecord {
  return {
    conversationId: d.conversationId,
    userId: d.userId,
    role: d.role,
    joinedSeq: d.joinedSeq,
    joinTimeMs: d.joinTimeMs,
    active: d.active,
    leftSeq: d.leftSeq,
    leftTimeMs: d.leftTimeMs,
    stateSeq: d.stateSeq,
  };
}
