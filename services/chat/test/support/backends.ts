import type Database from "better-sqlite3";
import { twoMongoInstances, twoSqliteInstances, type OpenTwoInstances, type TwoInstances } from "@caas/shared/testing";
import { migrateChatMongo, type ChatMongoDb } from "../../src/adapters/chat-mongo.js";
import { openChatSqlite } from "../../src/adapters/chat-sqlite.js";
import { createMongoChatStateStore } from "../../src/adapters/chat-state-store-mongo.js";
import { createSqliteChatStateStore } from "../../src/adapters/chat-state-store-sqlite.js";
import { createMongoConversationStore } from "../../src/adapters/conversation-store-mongo.js";
import { createSqliteConversationStore } from "../../src/adapters/conversation-store-sqlite.js";
import { createMongoInviteStore } from "../../src/adapters/invite-store-mongo.js";
import { createSqliteInviteStore } from "../../src/adapters/invite-store-sqlite.js";
import { createMongoMessageMarkStore } from "../../src/adapters/message-mark-store-mongo.js";
import { createSqliteMessageMarkStore } from "../../src/adapters/message-mark-store-sqlite.js";
import { createMongoMemberStore } from "../../src/adapters/member-store-mongo.js";
import { createSqliteMemberStore } from "../../src/adapters/member-store-sqlite.js";
import { createMongoReadStateStore } from "../../src/adapters/read-state-store-mongo.js";
import { createSqliteReadStateStore } from "../../src/adapters/read-state-store-sqlite.js";
import { createMongoMentionStore } from "../../src/adapters/mention-store-mongo.js";
import { createSqliteMentionStore } from "../../src/adapters/mention-store-sqlite.js";
import type { MentionStore } from "../../src/ports/mention-store.js";
import type { ChatStateStore } from "../../src/ports/chat-state-store.js";
import type { ConversationStore } from "../../src/ports/conversation-store.js";
import type { InviteStore } from "../../src/ports/invite-store.js";
import type { MemberStore } from "../../src/ports/member-store.js";
import type { MessageMarkStore } from "../../src/ports/message-mark-store.js";
import type { ReadStateStore } from "../../src/ports/read-state-store.js";
import { createMongoBlockStore } from "../../src/adapters/block-store-mongo.js";
import { createSqliteBlockStore } from "../../src/adapters/block-store-sqlite.js";
import { createMongoModerationStore } from "../../src/adapters/moderation-store-mongo.js";
import { createSqliteModerationStore } from "../../src/adapters/moderation-store-sqlite.js";
import type { BlockStore } from "../../src/ports/block-store.js";
import type { ModerationStore } from "../../src/ports/moderation-store.js";

/** One handle on every chat store (the event log aside) of a backend, as one chat instance holds them. */
export interface StoreSet {
  conversations: ConversationStore;
  members: MemberStore;
  readStates: ReadStateStore;
  invites: InviteStore;
  marks: MessageMarkStore;
  mentions: MentionStore;
  state: ChatStateStore;
  moderation: ModerationStore;
  blocks: BlockStore;
}

/** Two chat instances on one fresh backend namespace, like two chat processes sharing a database. */
export type Instances = TwoInstances<StoreSet>;
export type OpenInstances = OpenTwoInstances<StoreSet>;

function sqliteSet(db: Database.Database): StoreSet {
  return {
    conversations: createSqliteConversationStore({ db }),
    members: createSqliteMemberStore({ db }),
    readStates: createSqliteReadStateStore({ db }),
    invites: createSqliteInviteStore({ db }),
    marks: createSqliteMessageMarkStore({ db }),
    mentions: createSqliteMentionStore({ db }),
    state: createSqliteChatStateStore({ db }),
    moderation: createSqliteModerationStore({ db }),
    blocks: createSqliteBlockStore({ db }),
  };
}

/** A fresh SQLite file under `dir` per call, opened twice. */
export function sqliteInstances(dir: string): OpenInstances {
  return twoSqliteInstances({ dir, name: "chat", open: (path) => openChatSqlite({ path }), make: sqliteSet });
}

function mongoSet(db: ChatMongoDb, collectionPrefix: string): StoreSet {
  return {
    conversations: createMongoConversationStore({ db, collectionPrefix }),
    members: createMongoMemberStore({ db, collectionPrefix }),
    readStates: createMongoReadStateStore({ db, collectionPrefix }),
    invites: createMongoInviteStore({ db, collectionPrefix }),
    marks: createMongoMessageMarkStore({ db, collectionPrefix }),
    mentions: createMongoMentionStore({ db, collectionPrefix }),
    state: createMongoChatStateStore({ db, collectionPrefix }),
    moderation: createMongoModerationStore({ db, collectionPrefix }),
    blocks: createMongoBlockStore({ db, collectionPrefix }),
  };
}

/** A fresh collection prefix in `dbName` per call, with two MongoClients. */
export function mongoInstances(url: string, dbName: string): OpenInstances {
  return twoMongoInstances<ChatMongoDb, StoreSet>({
    url,
    dbName,
    name: "chat",
    migrate: (db, collectionPrefix) => migrateChatMongo({ db, collectionPrefix }),
    make: mongoSet,
  });
}
