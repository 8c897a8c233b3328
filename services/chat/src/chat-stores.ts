import type Database from "better-sqlite3";
import { createSqliteEventLogStore } from "@caas/shared/eventing/log-sqlite";
import type { Clock } from "@caas/shared/clock";
import type { Config, EventLogSync } from "@caas/shared/config";
import type { Logger } from "@caas/shared/logger";
import type { MigrationResult } from "@caas/shared/migrations";
import { openStoreSet, storeBackendForConfig, type StoreBackend } from "@caas/shared/store-set";
import type { ChatStores, ChatTableStores } from "./ports/chat-stores.js";
import type { ChatMongoDb } from "./adapters/chat-mongo.js";
import { createSqliteChatStateStore } from "./adapters/chat-state-store-sqlite.js";
import { openChatSqlite } from "./adapters/chat-sqlite.js";
import { createSqliteInviteStore } from "./adapters/invite-store-sqlite.js";
import { createSqliteConversationStore } from "./adapters/conversation-store-sqlite.js";
import { createSqliteMessageMarkStore } from "./adapters/message-mark-store-sqlite.js";
import { createSqliteMemberStore } from "./adapters/member-store-sqlite.js";
import { createSqliteReadStateStore } from "./adapters/read-state-store-sqlite.js";
import { createSqliteMentionStore } from "./adapters/mention-store-sqlite.js";
import { createSqliteBlockStore } from "./adapters/block-store-sqlite.js";
import { createSqliteModerationStore } from "./adapters/moderation-store-sqlite.js";
import { createSqliteDataKeyStore } from "./adapters/data-key-store-sqlite.js";
import { createSqliteProjectionStateStore } from "./projections/projection-state-store-sqlite.js";
import { createSqliteTenantRowEraser } from "./adapters/tenant-rows-sqlite.js";

export type { ChatStores, ChatTableStores } from "./ports/chat-stores.js";

/** Chat's SQLite file under the data directory (embedded mode): the event log and every chat table. */
export const CHAT_DB_FILE = "chat.db";

/** Where the chat stores live; what `openChatStores` picks from the run mode. */
export type ChatBackend = StoreBackend;

/**
 * The one place the chat adapters are chosen: embedded mode uses one SQLite file
 * (`<dataDir>/chat.db`) holding the event log and the chat tables; cluster mode uses MongoDB
 * (CAAS_MONGO_URL, CAAS_MONGO_DB) with `chat_`-prefixed collections. The choice is logged.
 */
export async function openChatStoresForConfig(config: Config, logger: Logger, clock: Clock): Promise<ChatStores> {
  return openChatStores(await storeBackendForConfig(config, logger, "chat", CHAT_DB_FILE), { logger, clock, eventLogSync: config.eventLogSync });
}

/** Opens (and migrates) the chat stores on one backend. Tests call it directly. */
export async function openChatStores(backend: ChatBackend, deps: { logger?: Logger; clock: Clock; eventLogSync?: EventLogSync }): Promise<ChatStores> {
  const onMigrated = (what: string) => (result: MigrationResult) => deps.logger?.info(result, `${what} schema migrated`);
  return openStoreSet(backend, {
    sqlite: async (path) => {
      const db = await openChatSqlite({ path, onMigrated: onMigrated("chat") });
      try {
        const events = await createSqliteEventLogStore({ db, clock: deps.clock, onMigrated: onMigrated("event log"), sync: deps.eventLogSync ?? "full" });
        const projections = await createSqliteProjectionStateStore({ db, onMigrated: onMigrated("chat projections") });
        const dataKeys = await createSqliteDataKeyStore({ db });
        return {
          stores: { events, projections, dataKeys, ...sqliteTableStores(db), tenantRows: createSqliteTenantRowEraser(db), scrub: async () => void db.pragma("wal_checkpoint(TRUNCATE)") },
          release: async () => {
            db.close();
          },
        };
      } catch (err) {
        db.close();
        throw err;
      }
    },
    mongo: async (db, prefix) => {
      // Cluster mode only: the Mongo adapters (and the driver) load here.
      const { openMongoChatStores } = await import("./adapters/chat-stores-mongo.js");
      return openMongoChatStores(db as ChatMongoDb, prefix ?? "chat_", { clock: deps.clock, onMigrated });
    },
  });
}

/** The table stores on one SQLite database (also how tests open two instances on one file). */
export function sqliteTableStores(db: Database.Database): ChatTableStores {
  return {
    conversations: createSqliteConversationStore({ db }),
    members: createSqliteMemberStore({ db }),
    readStates: createSqliteReadStateStore({ db }),
    invites: createSqliteInviteStore({ db }),
    marks: createSqliteMessageMarkStore({ db }),
    mentions: createSqliteMentionStore({ db }),
    moderation: createSqliteModerationStore({ db }),
    blocks: createSqliteBlockStore({ db }),
    state: createSqliteChatStateStore({ db }),
  };
}
