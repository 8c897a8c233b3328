import type { Clock } from "@caas/shared/clock";
import { createMongoEventLogStore } from "@caas/shared/eventing/log-mongo";
import type { MigrationResult } from "@caas/shared/migrations";
import type { ChatStores, ChatTableStores } from "../ports/chat-stores.js";
import { createMongoProjectionStateStore } from "../projections/projection-state-store-mongo.js";
import { createMongoBlockStore } from "./block-store-mongo.js";
import { migrateChatMongo, type ChatMongoDb } from "./chat-mongo.js";
import { createMongoChatStateStore } from "./chat-state-store-mongo.js";
import { createMongoDataKeyStore } from "./data-key-store-mongo.js";
import { createMongoConversationStore } from "./conversation-store-mongo.js";
import { createMongoInviteStore } from "./invite-store-mongo.js";
import { createMongoMemberStore } from "./member-store-mongo.js";
import { createMongoMentionStore } from "./mention-store-mongo.js";
import { createMongoMessageMarkStore } from "./message-mark-store-mongo.js";
import { createMongoModerationStore } from "./moderation-store-mongo.js";
import { createMongoReadStateStore } from "./read-state-store-mongo.js";
import { createMongoTenantRowEraser } from "./tenant-rows-mongo.js";

/*
 * The chat stores on MongoDB, in a module of their own: the store opener imports it only in
 * cluster mode, so the embedded mode never loads the driver.
 */

/** Migrates the chat collections under `collectionPrefix`, then builds every chat store on them. */
export async function openMongoChatStores(
  db: ChatMongoDb,
  collectionPrefix: string,
  deps: { clock: Clock; onMigrated: (what: string) => (result: MigrationResult) => void },
): Promise<Omit<ChatStores, "close">> {
  const { clock, onMigrated } = deps;
  await migrateChatMongo({ db, collectionPrefix, onMigrated: onMigrated("chat") });
  const events = await createMongoEventLogStore({ db, collectionPrefix, clock, onMigrated: onMigrated("event log") });
  const projections = await createMongoProjectionStateStore({ db, collectionPrefix, onMigrated: onMigrated("chat projections") });
  const dataKeys = await createMongoDataKeyStore({ db, collectionPrefix });
  return { events, projections, dataKeys, ...mongoTableStores(db, collectionPrefix), tenantRows: createMongoTenantRowEraser(db, collectionPrefix), scrub: async () => {} };
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
