import { isMongoDuplicateKeyError } from "@caas/shared/mongo";
import type { PasswordRecord, PasswordStore } from "../ports/password-store.js";
import { authCollections, MAJORITY, type MongoAdapterOptions } from "./auth-mongo.js";
import { checkId, checkPasswordRecord, tenantOf } from "./checks.js";

interface PasswordDoc {
  /** `<tenant>|<login>`: the unique `_id` makes a taken login a duplicate-key error. */
  _id: string;
  tenantId: string;
  login: string;
  userId: string;
  hash: string;
  createTimeMs: number;
}

/** The cluster-mode PasswordStore: one document per login, `_id` led by the tenant id, an index on (tenantId, userId). */
export function createMongoPasswordStore(opts: MongoAdapterOptions): PasswordStore {
  const passwords = opts.db.collection<PasswordDoc>(authCollections(opts.collectionPrefix).passwords, MAJORITY);
  const key = (tenantId: string, login: string) => `${tenantId}|${login}`;
  return {
    async ofUser(scope, userId) {
      const docs = await passwords
        .find({ tenantId: tenantOf(scope), userId: checkId("userId", userId) })
        .sort({ login: 1 })
        .toArray();
      return docs.map((d) => ({ tenantId: d.tenantId, login: d.login, userId: d.userId, hash: d.hash, createTimeMs: d.createTimeMs }));
    },

    async removeUser(scope, userId) {
      return (await passwords.deleteMany({ tenantId: tenantOf(scope), userId: checkId("userId", userId) })).deletedCount;
    },

    async hasLogin(scope, userId) {
      return (await passwords.findOne({ tenantId: tenantOf(scope), userId: checkId("userId", userId) })) !== null;
    },

    async create(scope, r) {
      const tenantId = tenantOf(scope);
      checkPasswordRecord(tenantId, r);
      try {
        await passwords.insertOne({ _id: key(tenantId, r.login), tenantId, login: r.login, userId: r.userId, hash: r.hash, createTimeMs: r.createTimeMs });
        return true;
      } catch (err) {
        if (isMongoDuplicateKeyError(err)) return false;
        throw err;
      }
    },

    async getByLogin(scope, login): Promise<PasswordRecord | undefined> {
      const doc = await passwords.findOne({ _id: key(tenantOf(scope), checkId("login", login, 300)) });
      return doc ? { tenantId: doc.tenantId, login: doc.login, userId: doc.userId, hash: doc.hash, createTimeMs: doc.createTimeMs } : undefined;
    },

    async close() {},
  };
}
