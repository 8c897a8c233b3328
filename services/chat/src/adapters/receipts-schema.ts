import type Database from "better-sqlite3";
import { mongoMigrationTarget } from "@caas/shared/mongo/migrations";
import { runMigrations, sqliteMigrationTarget, type Migration, type MigrationResult } from "@caas/shared/migrations";
import type { MongoDb } from "@caas/shared/mongo";

/*
 * The schema of receipts and mentions: delivery markers next to read markers, and
 * per-user mention records. A migration list of its own (with its own bookkeeping table or
 * collection), applied right after the chat schema by openChatSqlite / migrateChatMongo, so its
 * versions never interleave with the chat list's.
 */

/** Bookkeeping table of the receipts schema in chat's SQLite file. */
export const RECEIPTS_SQLITE_MIGRATION_TABLE = "chat_receipts_schema_migrations";

/** Append only; never edit a released step. Keys of tenant data lead with tenant_id. */
export const RECEIPTS_SQLITE_MIGRATIONS: Migration<Database.Database>[] = [
  {
    version: 1,
    name: "delivery markers, receipts by conversation, mentions",
    up(db) {
      db.exec(`
        ALTER TABLE read_states ADD COLUMN last_delivered_seq INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX read_states_by_conversation ON read_states (tenant_id, conversation_id, user_id);
        CREATE TABLE mentions (
          tenant_id TEXT NOT NULL,
          user_id TEXT NOT NULL,
          conversation_id TEXT NOT NULL,
          seq INTEGER NOT NULL,
          time_ms INTEGER NOT NULL,
          PRIMARY KEY (tenant_id, user_id, conversation_id, seq)
        ) STRICT;
        CREATE INDEX mentions_by_message ON mentions (tenant_id, conversation_id, seq);
      `);
    },
  },
];

/** Brings the receipts tables of an open chat SQLite file to the newest schema. */
export async function migrateReceiptsSqlite(db: Database.Database): Promise<MigrationResult> {
  return runMigrations(sqliteMigrationTarget(db, RECEIPTS_SQLITE_MIGRATION_TABLE), RECEIPTS_SQLITE_MIGRATIONS);
}

/** Collection names of the receipts schema (the prefix as in chatCollections). */
export function receiptCollections(prefix = "chat_") {
  return {
    deliveryStates: `${prefix}delivery_states`,
    mentions: `${prefix}mentions`,
    migrations: `${prefix}receipts_migrations`,
  };
}

/** The receipts MongoDB steps (indexes); append only, each idempotent. */
export function receiptsMongoMigrations(prefix = "chat_"): Migration<MongoDb>[] {
  const c = receiptCollections(prefix);
  const readStates = `${prefix}read_states`;
  return [
    {
      version: 1,
      name: "delivery markers, receipts by conversation, mentions",
      async up(db) {
        await db.collection(c.deliveryStates).createIndex({ tenantId: 1, userId: 1, conversationId: 1, lastDeliveredSeq: 1 }, { name: "tenant_user_conversation_seq" });
        await db.collection(c.deliveryStates).createIndex({ tenantId: 1, conversationId: 1, userId: 1 }, { name: "tenant_conversation_user" });
        await db.collection(readStates).createIndex({ tenantId: 1, conversationId: 1, userId: 1 }, { name: "tenant_conversation_user" });
        await db.collection(c.mentions).createIndex({ tenantId: 1, userId: 1, conversationId: 1, seq: 1 }, { name: "tenant_user_conversation_seq" });
        await db.collection(c.mentions).createIndex({ tenantId: 1, conversationId: 1, seq: 1 }, { name: "tenant_conversation_seq" });
      },
    },
  ];
}

/** Brings the receipts collections to the newest schema. */
export async function migrateReceiptsMongo(db: MongoDb, prefix = "chat_"): Promise<MigrationResult> {
  return runMigrations(mongoMigrationTarget(db, receiptCollections(prefix).migrations), receiptsMongoMigrations(prefix));
}
