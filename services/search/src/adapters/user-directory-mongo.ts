import type { Collection, Document } from "mongodb";
import { mongoMigrationTarget } from "@caas/shared/mongo/migrations";
import { runMigrations, type MigrationResult } from "@caas/shared/migrations";
import { upsertRetryingOnce, type MongoCollection, type MongoDb } from "@caas/shared/mongo";
import type { UserDirectory } from "../ports/user-directory.js";
import { tenantOf } from "./checks.js";
import { nameKeys } from "./user-directory-sqlite.js";

type Coll<T extends Document = Document> = MongoCollection<T> & Pick<Collection<T>, "deleteOne" | "deleteMany">;

/** A database as this adapter sees it (the driver's `Db` satisfies it). */
export interface DirectoryMongoDb extends MongoDb {
  collection<T extends Document = Document>(name: string): Coll<T>;
}

interface UserDoc {
  _id: string;
  tenantId: string;
  userId: string;
  displayName: string;
  avatarUrl: string;
  nameFolded: string;
  /** The folded name's words, for prefix matches of each word. */
  nameWords: string[];
  active: boolean;
}

interface BlockDoc {
  _id: string;
  tenantId: string;
  blockedId: string;
  blockerId: string;
}

const MAJORITY = { writeConcern: { w: "majority" as const } };
const regexEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Brings the directory collections under `prefix` ("search_" in production) up to date. */
export async function migrateDirectoryMongo(db: DirectoryMongoDb, prefix = "search_", onMigrated?: (r: MigrationResult) => void): Promise<void> {
  const result = await runMigrations(mongoMigrationTarget(db, `${prefix}migrations`), [
    {
      version: 1,
      name: "user directory indexes",
      async up(d: MongoDb) {
        await d.collection(`${prefix}users`).createIndex({ tenantId: 1, nameFolded: 1, userId: 1 }, { name: "tenant_name" });
        await d.collection(`${prefix}blocks`).createIndex({ tenantId: 1, blockedId: 1, blockerId: 1 }, { name: "tenant_blocked" });
      },
    },
  ]);
  onMigrated?.(result);
}

/**
 * The cluster `UserDirectory` on MongoDB (FerretDB): one document per user with its folded name
 * words, matched with anchored regular expressions per word, and one per block. Shared by every
 * search instance; reads and writes are majority-acknowledged.
 */
export function createMongoUserDirectory(opts: { db: DirectoryMongoDb; prefix?: string }): UserDirectory {
  const prefix = opts.prefix ?? "search_";
  const users = opts.db.collection<UserDoc>(`${prefix}users`);
  const blocks = opts.db.collection<BlockDoc>(`${prefix}blocks`);
  const userKey = (t: string, u: string) => `${t}:${u}`;
  return {
    async put(scope, u) {
      const tenantId = tenantOf(scope);
      const { nameFolded, nameWords } = nameKeys(u.displayName);
      await upsertRetryingOnce(() =>
        users.updateOne(
          { _id: userKey(tenantId, u.userId) },
          { $set: { tenantId, userId: u.userId, displayName: u.displayName, avatarUrl: u.avatarUrl, nameFolded, nameWords: nameWords.split(" ").filter(Boolean) }, $setOnInsert: { active: true } },
          { upsert: true, ...MAJORITY },
        ),
      );
    },
    async setActive(scope, userId, active) {
      await users.updateOne({ _id: userKey(tenantOf(scope), userId) }, { $set: { active } }, MAJORITY);
    },
    async remove(scope, userId) {
      const tenantId = tenantOf(scope);
      await users.deleteOne({ _id: userKey(tenantId, userId) }, MAJORITY);
      await blocks.deleteMany({ tenantId, $or: [{ blockerId: userId }, { blockedId: userId }] }, MAJORITY);
    },
    async setBlock(scope, blockerId, blockedId, blocked) {
      const tenantId = tenantOf(scope);
      const _id = `${tenantId}:${blockedId}:${blockerId}`;
      if (blocked) await upsertRetryingOnce(() => blocks.updateOne({ _id }, { $set: { tenantId, blockedId, blockerId } }, { upsert: true, ...MAJORITY }));
      else await blocks.deleteOne({ _id }, MAJORITY);
    },
    async search(scope, q) {
      const tenantId = tenantOf(scope);
      const blockers = (await blocks.find({ tenantId, blockedId: q.viewerId }).toArray()).map((b) => b.blockerId);
      const byName = q.words.length > 0 ? [{ $and: q.words.map((w) => ({ nameWords: { $regex: `^${regexEscape(w)}` } })) }] : [];
      const byId = q.idPrefix !== "" ? [{ userId: { $regex: `^${regexEscape(q.idPrefix)}` } }] : [];
      if (byName.length + byId.length === 0) return [];
      const filter: Document = { tenantId, active: true, $or: [...byName, ...byId] };
      if (blockers.length > 0) filter.userId = { $nin: blockers };
      if (q.after) filter.$and = [{ $or: [{ nameFolded: { $gt: q.after[0] } }, { nameFolded: q.after[0], userId: { $gt: q.after[1] } }] }];
      const docs = await users.find(filter).sort({ nameFolded: 1, userId: 1 }).limit(q.limit).toArray();
      return docs.map((d) => ({ userId: d.userId, displayName: d.displayName, avatarUrl: d.avatarUrl, nameFolded: d.nameFolded }));
    },
    async close() {},
  };
}
