import type Database from "better-sqlite3";
import { join } from "node:path";
import {
  ensurePrivateDir,
  connectMongo,
  createMongoEventLogStore,
  createSqliteEventLogStore,
  type Clock,
  type Config,
  type EventLogStore,
  type Logger,
  type MigrationResult,
} from "@caas/shared";
import { migrateChatMongo, type ChatMongoDb } from "./adapters/chat-mongo.js";
import { createMongoChatStateStore } from "./adapters/chat-state-store-mongo.js";
import { createSqliteChatStateStore } from "./adapters/chat-state-store-sqlite.js";
import { openChatSqlite } from "./adapters/chat-sqlite.js";
import { createMongoConversationStore } from "./adapters/conversation-store-mongo.js";
import { createMongoInviteStore } from "./adapters/invite-store-mongo.js";
import { createSqliteInviteStore } from "./adapters/invite-store-sqlite.js";
import { createSqliteConversationStore } from "./adapters/conversation-store-sqlite.js";
import { createMongoMessageMarkStore } from "./adapters/message-mark-store-mongo.js";
import { createSqliteMessageMarkStore } from "./adapters/message-mark-store-sqlite.js";
import { createMongoMemberStore } from "./adapters/member-store-mongo.js";
import { createSqliteMemberStore } from "./adapters/member-store-sqlite.js";
import { createMongoReadStateStore } from "./adapters/read-state-store-mongo.js";
import { createSqliteReadStateStore } from "./adapters/read-state-store-sqlite.js";
import { createMongoMentionStore } from "./adapters/mention-store-mongo.js";
import { createSqliteMentionStore } from "./adapters/mention-store-sqlite.js";
import type { MentionStore } from "./ports/mention-store.js";
import { createMongoBlockStore } from "./adapters/block-store-mongo.js";
import { createSqliteBlockStore } from "./adapters/block-store-sqlite.js";
import { createMongoModerationStore } from "./adapters/moderation-store-mongo.js";
import { createSqliteModerationStore } from "./adapters/moderation-store-sqlite.js";
import type { BlockStore } from "./ports/block-store.js";
import type { ModerationStore } from "./ports/moderation-store.js";
import type { ChatStateStore } from "./ports/chat-state-store.js";
import type { ProjectionStateStore } from "./projections/projection-state-store.js";
import { createMongoProjectionStateStore } from "./projections/projection-state-store-mongo.js";
import { createSqliteProjectionStateStore } from "./projections/projection-state-store-sqlite.js";
import type { ConversationStore } from "./ports/conversation-store.js";
import type { InviteStore } from "./ports/invite-store.js";
import type { MemberStore } from "./ports/member-store.js";
import type { MessageMarkStore } from "./ports/message-mark-store.js";
import type { ReadStateStore } from "./ports/read-state-store.js";

/** Every store of one chat instance, on one backend. */
export interface ChatStores {
  /** The conversation event log: the commit point (services/shared eventlog). */
  events: EventLogStore;
  conversations: ConversationStore;
  members: MemberStore;
  readStates: ReadStateStore;
  invites: InviteStore;
  /** Reactions, pins and edits per message: a projection of the log (ADR 0018). */
  marks: MessageMarkStore;
  /** Where the projector stands per conversation, and the projections' version (ADR 0021). */
  projections: ProjectionStateStore;
  /** Per-user mention records (mention counts). */
  mentions: MentionStore;
  /** Mutes and bans per conversation (a projection of the log, read uncached on the write path). */
  moderation: ModerationStore;
  /** User-to-user blocks. */
  blocks: BlockStore;
  state: ChatStateStore;
  /** Closes the stores, then the connection they share. Idempotent. */
  close(): Promise<void>;
}

/** Chat's SQLite file under the data directory (embedded mode): the event log and every chat table. */
export const CHAT_DB_FILE = "chat.db";

/** Where the chat stores live; what `openChatStores` picks from the run mode. */
export type ChatBackend =
  | { kind: "sqlite"; path: string }
  | { kind: "mongo"; url: string; database: string; appName: string; collectionPrefix?: string };

/**
 * The one place the chat adapters are chosen: embedded mode uses one SQLite file
 * (`<dataDir>/chat.db`) holding the event log and the chat tables; cluster mode uses MongoDB
 * (CAAS_MONGO_URL, CAAS_MONGO_DB) with `chat_`-prefixed collections. The choice is logged.
 */
export async function openChatStoresForConfig(config: Config, logger: Logger, clock: Clock): Promise<ChatStores> {
  switch (config.mode) {
    case "embedded": {
      await ensurePrivateDir(config.dataDir);
      const path = join(config.dataDir, CHAT_DB_FILE);
      logger.info({ adapter: "sqlite", path }, "chat stores");
      return openChatStores({ kind: "sqlite", path }, { logger, clock });
    }
    case "cluster": {
      const url = config.cluster.mongoUrl;
      if (!url) throw new Error("the chat service needs CAAS_MONGO_URL in cluster mode");
      logger.info({ adapter: "mongodb", database: config.cluster.mongoDb }, "chat stores");
      return openChatStores({ kind: "mongo", url, database: config.cluster.mongoDb, appName: config.instanceId }, { logger, clock });
    }
  }
}

/** Opens (and migrates) the chat stores on one backend. Tests call it directly. */
export async function openChatStores(backend: ChatBackend, deps: { logger?: Logger; clock: Clock }): Promise<ChatStores> {
  const onMigrated = (what: string) => (result: MigrationResult) => deps.logger?.info(result, `${what} schema migrated`);
  switch (backend.kind) {
    case "sqlite": {
      const db = await openChatSqlite({ path: backend.path, onMigrated: onMigrated("chat") });
      try {
        const events = await createSqliteEventLogStore({ db, clock: deps.clock, onMigrated: onMigrated("event log") });
        const projections = await createSqliteProjectionStateStore({ db, onMigrated: onMigrated("chat projections") });
        return assemble(
          { events, projections, ...sqliteTableStores(db) },
          async () => {
            db.close();
          },
        );
      } catch (err) {
        db.close();
        throw err;
      }
    }
    case "mongo": {
      const conn = await connectMongo(backend.url, backend.database, { appName: backend.appName });
      try {
        const db = conn.database(backend.database) as ChatMongoDb;
        const collectionPrefix = backend.collectionPrefix ?? "chat_";
        await migrateChatMongo({ db, collectionPrefix, onMigrated: onMigrated("chat") });
        const events = await createMongoEventLogStore({ db, collectionPrefix, clock: deps.clock, onMigrated: onMigrated("event log") });
        const projections = await createMongoProjectionStateStore({ db, collectionPrefix, onMigrated: onMigrated("chat projections") });
        return assemble(
          { events, projections, ...mongoTableStores(db, collectionPrefix) },
          () => conn.close(),
        );
      } catch (err) {
        await conn.close();
        throw err;
      }
    }
  }
}

/** The chat stores built straight on an open, migrated database (all but the event log and the projection state, which migrate themselves). */
export type ChatTableStores = Omit<ChatStores, "events" | "projections" | "close">;

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

/** The table stores on one MongoDB database under `collectionPrefix`. */
export function mongoTableStores(db: ChatMongoDb, collectionPrefix: string): ChatTableStores {
  return {
    conversations: createMongoConversationStore({ db, collectionPrefix }),
    members: createMongoMemberStore({ db, collectionPrefix }),
    readStates: createMongoReadStateStore({ db, collectionPrefix }),
    invites: createMongoInviteStore({ db, collectionPrefix }),
    marks: createMongoMessageMarkStore({ db, collectionPrefix }),
    mentions: createMongoMentionStore({ db, collectionPrefix }),
    moderation: createMongoModerationStore({ db, collectionPrefix }),
    blocks: createMongoBlockStore({ db, collectionPrefix }),
    state: createMongoChatStateStore({ db, collectionPrefix }),
  };
}

function assemble(stores: Omit<ChatStores, "close">, release: () => Promise<void>): ChatStores {
  let closing: Promise<void> | undefined;
  return {
    ...stores,
    close: () =>
      (closing ??= (async () => {
        for (const s of Object.values(stores)) await s.close();
        await release();
      })()),
  };
}

