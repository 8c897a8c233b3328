import type Database from "better-sqlite3";
import { mongoMigrationTarget } from "@caas/shared/mongo/migrations";
import { runMigrations, sqliteMigrationTarget, type Migration, type MigrationResult } from "@caas/shared/migrations";
import type { MongoDb } from "@caas/shared/mongo";

/*
 * The schema of moderation: mutes and bans per conversation, user-to-user blocks. A
 * migration list of its own (own bookkeeping table or collection), applied after the chat schema
 * by openChatSqlite / migrateChatMongo, so its versions never interleave with another list's.
 */

/** Bookkeeping table of the moderation schema in chat's SQLite file. */
export const MODERATION_SQLITE_MIGRATION_TABLE = "chat_moderation_schema_migrations";

/** Append only; never edit a released step. Keys of tenant data lead with tenant_id. */
export const MODERATION_SQLITE_MIGRATIONS: Migration<Database.Database>[] = [
  {
    version: 1,
    name: "mutes and bans, user blocks",
    up(db) {
      db.exec(`
        CREATE TABLE moderation (
          tenant_id TEXT NOT NULL,
          conversation_id TEXT NOT NULL,
          user_id TEXT NOT NULL,
          kind TEXT NOT NULL,
          present INTEGER NOT NULL,
          expire_time_ms INTEGER NOT NULL,
          reason TEXT NOT NULL,
          actor_id TEXT NOT NULL,
          seq INTEGER NOT NULL,
          time_ms INTEGER NOT NULL,
          PRIMARY KEY (tenant_id, conversation_id, user_id, kind)
        ) STRICT;
        CREATE INDEX moderation_by_kind ON moderation (tenant_id, conversation_id, kind, present, user_id);
        CREATE TABLE blocks (
          tenant_id TEXT NOT NULL,
          blocker_id TEXT NOT NULL,
          blocked_id TEXT NOT NULL,
          create_time_ms INTEGER NOT NULL,
          PRIMARY KEY (tenant_id, blocker_id, blocked_id)
        ) STRICT;
        CREATE INDEX blocks_by_time ON blocks (tenant_id, blocker_id, create_time_ms, blocked_id);
      `);
    },
  },
];

/** Brings the moderation tables of an open chat SQLite file to the newest schema. */
export async function migrateModerationSqlite(db: Database.Database): Promise<MigrationResult> {
  return runMigrations(sqliteMigrationTarget(db, MODERATION_SQLITE_MIGRATION_TABLE), MODERATION_SQLITE_MIGRATIONS);
}

/** Collection names of the moderation schema (the prefix as in chatCollections). */
export function moderationCollections(prefix = "chat_") {
  return {
    moderation: `${prefix}moderation`,
    blocks: `${prefix}blocks`,
    migrations: `${prefix}moderation_migrations`,
  };
}

/** The moderation MongoDB steps (indexes); append only, each idempotent. */
export function moderationMongoMigrations(prefix = "chat_"): Migration<MongoDb>[] {
  const c = moderationCollections(prefix);
  return [
    {
      version: 1,
      name: "mutes and bans, user blocks",
      async up(db) {
        await db.collection(c.moderation).createIndex({ tenantId: 1, conversationId: 1, kind: 1, present: 1, userId: 1 }, { name: "tenant_conversation_kind_user" });
        await db.collection(c.blocks).createIndex({ tenantId: 1, blockerId: 1, createTimeMs: 1, blockedId: 1 }, { name: "tenant_blocker_time" });
      },
    },
  ];
}

/** Brings the moderation collections to the newest schema. */
export async function migrateModerationMongo(db: MongoDb, prefix = "chat_"): Promise<MigrationResult> {
  return runMigrations(mongoMigrationTarget(db, moderationCollections(prefix).migrations), moderationMongoMigrations(prefix));
}
