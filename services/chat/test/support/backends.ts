import { twoMongoInstances, twoSqliteInstances, type OpenTwoInstances, type TwoInstances } from "@caas/shared/testing";
import { migrateChatMongo, type ChatMongoDb } from "../../src/adapters/chat-mongo.js";
import { openChatSqlite } from "../../src/adapters/chat-sqlite.js";
import { sqliteTableStores, type ChatTableStores } from "../../src/chat-stores.js";
import { mongoTableStores } from "../../src/adapters/chat-stores-mongo.js";

/** One handle on every chat store (the event log aside) of a backend, as one chat instance holds them. */
export type StoreSet = ChatTableStores;

/** Two chat instances on one fresh backend namespace, like two chat processes sharing a database. */
export type Instances = TwoInstances<StoreSet>;
export type OpenInstances = OpenTwoInstances<StoreSet>;

/** A fresh SQLite file under `dir` per call, opened twice. */
export function sqliteInstances(dir: string): OpenInstances {
  return twoSqliteInstances({ dir, name: "chat", open: (path) => openChatSqlite({ path }), make: sqliteTableStores });
}

/** A fresh collection prefix in `dbName` per call, with two MongoClients. */
export function mongoInstances(url: string, dbName: string): OpenInstances {
  return twoMongoInstances<ChatMongoDb, StoreSet>({
    url,
    dbName,
    name: "chat",
    migrate: (db, collectionPrefix) => migrateChatMongo({ db, collectionPrefix }),
    make: mongoTableStores,
  });
}
