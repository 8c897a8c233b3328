import type { Collection, CollectionOptions, Document } from "mongodb";
import { mongoMigrationTarget } from "@caas/shared/mongo/migrations";
import { runMigrations, type Migration, type MigrationResult } from "@caas/shared/migrations";
import type { MongoDb } from "@caas/shared/mongo";
import { migrateReceiptsMongo } from "./receipts-schema.js";
import { migrateModerationMongo } from "./moderation-schema.js";

/** The collection operations the chat Mongo adapters use, and nothing else. */
export type ChatMongoCollection<T extends Document = Document> = Pick<
  Collection<T>,
  "insertOne" | "insertMany" | "findOne" | "find" | "aggregate" | "updateOne" | "updateMany" | "deleteMany" | "countDocuments" | "createIndex" | "indexes"
>;

/**
 * A database as the chat adapters see it (the driver's `Db` satisfies it): the shared `MongoDb`
 * plus countDocuments and deleteMany. Only driver types are imported here; services/shared mongo-client owns
 * the driver.
 */
export interface ChatMongoDb extends MongoDb {
  collection<T extends Document = Document>(name: string, options?: Pick<CollectionOptions, "readConcern" | "writeConcern">): ChatMongoCollection<T>;
}

/** Collection names, all starting with a prefix ("chat_" in production; tests add their own). */
export function chatCollections(prefix = "chat_") {
  return {
    conversations: `${prefix}conversations`,
    members: `${prefix}members`,
    readStates: `${prefix}read_states`,
    state: `${prefix}state`,
    invites: `${prefix}invites`,
    inviteUses: `${prefix}invite_uses`,
    marks: `${prefix}message_marks`,
    migrations: `${prefix}migrations`,
  };
}

/**
 * The chat MongoDB schema steps (indexes); append only, each idempotent (FerretDB has no
 * transactions, so a step may run again after a crash). Document ids lead with the tenant id;
 * secondary indexes lead with `tenantId`.
 */
export function chatMongoMigrations(prefix = "chat_"): Migration<MongoDb>[] {
  const c = chatCollections(prefix);
  return [
    {
      version: 1,
      name: "chat indexes",
      async up(db) {
        // Non-DIRECT conversations store "~" + id, so a plain unique index suffices (no partial indexes on FerretDB).
        await db.collection(c.conversations).createIndex({ tenantId: 1, directKey: 1 }, { unique: true, name: "tenant_direct_key" });
        await db.collection(c.conversations).createIndex({ tenantId: 1, activityMs: 1, id: 1 }, { name: "tenant_activity" });
        await db.collection(c.conversations).createIndex({ tenantId: 1, changeMs: 1, id: 1 }, { name: "tenant_change" });
        await db.collection(c.members).createIndex({ tenantId: 1, conversationId: 1, active: 1, joinedSeq: 1, userId: 1 }, { name: "tenant_conversation_joined" });
        await db.collection(c.members).createIndex({ tenantId: 1, userId: 1, active: 1 }, { name: "tenant_user" });
        await db.collection(c.readStates).createIndex({ tenantId: 1, userId: 1, conversationId: 1, lastReadSeq: 1 }, { name: "tenant_user_conversation_seq" });
      },
    },
    {
      version: 2,
      name: "invites",
      async up(db) {
        await db.collection(c.invites).createIndex({ tenantId: 1, codeHash: 1 }, { unique: true, name: "tenant_code" });
        await db.collection(c.inviteUses).createIndex({ tenantId: 1, inviteId: 1, userId: 1 }, { unique: true, name: "tenant_invite_user" });
      },
    },
    {
      version: 3,
      name: "message marks",
      async up(db) {
        await db.collection(c.marks).createIndex({ tenantId: 1, conversationId: 1, messageSeq: 1, kind: 1 }, { name: "tenant_conversation_message" });
        await db.collection(c.marks).createIndex({ tenantId: 1, conversationId: 1, kind: 1, seq: 1 }, { name: "tenant_conversation_kind_seq" });
      },
    },
  ];
}

export interface MigrateChatMongoOptions {
  db: MongoDb;
  collectionPrefix?: string;
  onMigrated?: (result: MigrationResult) => void;
}

/** Brings the chat collections to the newest schema. The caller owns the client. */
export async function migrateChatMongo(opts: MigrateChatMongoOptions): Promise<void> {
  const prefix = opts.collectionPrefix ?? "chat_";
  const result = await runMigrations(mongoMigrationTarget(opts.db, chatCollections(prefix).migrations), chatMongoMigrations(prefix));
  opts.onMigrated?.(result);
  await migrateReceiptsMongo(opts.db, prefix);
  await migrateModerationMongo(opts.db, prefix);
}

/** Options every chat Mongo adapter takes. */
export interface ChatMongoOptions {
  db: ChatMongoDb;
  /** Default "chat_". */
  collectionPrefix?: string;
}

/** Majority reads and writes: an acknowledged change survives a replica-set failover. */
export const MAJORITY = { readConcern: { level: "majority" as const }, writeConcern: { w: "majority" as const } };
