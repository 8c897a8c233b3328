import { isMongoDuplicateKeyError, upsertRetryingOnce } from "@caas/shared/mongo";
import type { UserListQuery, UserRecord, UserState, UserStore } from "../ports/user-store.js";
import { authCollections, MAJORITY, type MongoAdapterOptions } from "./auth-mongo.js";
import { checkId, checkLimit, checkTime, checkUserProfile, checkUserState, tenantOf } from "./checks.js";

interface UserDoc {
  /** `<tenant>|<user>`: tenant ids and user ids contain no "|". */
  _id: string;
  tenantId: string;
  id: string;
  displayName: string;
  avatarUrl: string;
  custom: string;
  roles: string[];
  status: UserState;
  createTimeMs: number;
  updateTimeMs: number;
}

/**
 * The cluster-mode UserStore: one document per user, `_id` led by the tenant id, an index on
 * (tenantId, id) for listing. An upsert is one `updateOne(upsert)`: the profile is `$set`, the
 * status and create time `$setOnInsert`, so an existing user keeps them.
 */
export function createMongoUserStore(opts: MongoAdapterOptions): UserStore {
  const users = opts.db.collection<UserDoc>(authCollections(opts.collectionPrefix).users, MAJORITY);
  const docId = (tenantId: string, id: string) => `${tenantId}|${id}`;

  return {
    async upsert(scope, profile, nowMs) {
      const tenantId = tenantOf(scope);
      checkUserProfile(profile);
      checkTime("nowMs", nowMs);
      const _id = docId(tenantId, profile.id);
      const write = () =>
        users.updateOne(
          { _id },
          {
            $set: {
              tenantId,
              id: profile.id,
              displayName: profile.displayName,
              avatarUrl: profile.avatarUrl,
              custom: profile.custom,
              roles: [...profile.roles],
              updateTimeMs: nowMs,
            },
            $setOnInsert: { status: "active", createTimeMs: nowMs },
          },
          { upsert: true },
        );
      // Two upserts of one new id may race; the one the other beat updates on its second try.
      const result = await upsertRetryingOnce(write);
      const doc = await users.findOne({ _id });
      return { user: toRecord(doc!), created: result.upsertedCount === 1 };
    },

    async createIfAbsent(scope, profile, nowMs) {
      const tenantId = tenantOf(scope);
      checkUserProfile(profile);
      checkTime("nowMs", nowMs);
      const _id = docId(tenantId, profile.id);
      const doc: UserDoc = {
        _id,
        tenantId,
        id: profile.id,
        displayName: profile.displayName,
        avatarUrl: profile.avatarUrl,
        custom: profile.custom,
        roles: [...profile.roles],
        status: "active",
        createTimeMs: nowMs,
        updateTimeMs: nowMs,
      };
      let created = true;
      try {
        await users.insertOne(doc);
      } catch (err) {
        // It exists (or a concurrent call inserted it first): left as it is.
        if (!isMongoDuplicateKeyError(err)) throw err;
        created = false;
      }
      const stored = await users.findOne({ _id });
      return { user: toRecord(stored!), created };
    },

    async get(scope, id) {
      const doc = await users.findOne({ _id: docId(tenantOf(scope), checkId("id", id)) });
      return doc ? toRecord(doc) : undefined;
    },

    async list(scope, query: UserListQuery) {
      const filter = {
        tenantId: tenantOf(scope),
        id: { $gt: query.afterId ?? "" },
        ...(query.status === undefined ? {} : { status: checkUserState(query.status) }),
      };
      const docs = await users.find(filter).sort({ id: 1 }).limit(checkLimit(query.limit)).toArray();
      return docs.map(toRecord);
    },

    async setStatus(scope, id, status, nowMs) {
      const _id = docId(tenantOf(scope), checkId("id", id));
      checkUserState(status);
      const changed = await users.findOneAndUpdate({ _id, status: { $ne: status } }, { $set: { status, updateTimeMs: checkTime("nowMs", nowMs) } }, { returnDocument: "after" });
      if (changed) return toRecord(changed);
      const doc = await users.findOne({ _id });
      return doc ? toRecord(doc) : undefined;
    },

    async delete(scope, id) {
      const res = await users.deleteOne({ _id: docId(tenantOf(scope), checkId("id", id)) });
      return res.deletedCount > 0;
    },

    async close() {},
  };
}

function toRecord(d: UserDoc): UserRecord {
  return {
    tenantId: d.tenantId,
    id: d.id,
    displayName: d.displayName,
    avatarUrl: d.avatarUrl,
    custom: d.custom,
    roles: [...d.roles],
    status: d.status,
    createTimeMs: d.createTimeMs,
    updateTimeMs: d.updateTimeMs,
  };
}
