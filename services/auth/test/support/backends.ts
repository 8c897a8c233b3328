import { twoMongoInstances, twoSqliteInstances, type OpenTwoInstances, type TwoInstances } from "@caas/shared/testing";
import { migrateAuthMongo, type AuthMongoDb } from "../../src/adapters/auth-mongo.js";
import { openAuthSqlite } from "../../src/adapters/auth-sqlite.js";
import { sqliteAuthStores, type AuthStores } from "../../src/auth-stores.js";
import { mongoAuthStores } from "../../src/adapters/auth-stores-mongo.js";

/** One handle on every auth store of a backend, as one auth instance holds them. */
export type StoreSet = Omit<AuthStores, "close">;

/** Two auth instances on one fresh backend namespace, like two auth processes sharing a database. */
export type Instances = TwoInstances<StoreSet>;
export type OpenInstances = OpenTwoInstances<StoreSet>;

/** A fresh SQLite file under `dir` per call, opened twice. */
export function sqliteInstances(dir: string): OpenInstances {
  return twoSqliteInstances({ dir, name: "auth", open: (path) => openAuthSqlite({ path }), make: sqliteAuthStores });
}

/** A fresh collection prefix in `dbName` per call, with two MongoClients. */
export function mongoInstances(url: string, dbName: string): OpenInstances {
  return twoMongoInstances<AuthMongoDb, StoreSet>({
    url,
    dbName,
    name: "auth",
    migrate: (db, collectionPrefix) => migrateAuthMongo({ db, collectionPrefix }),
    make: mongoAuthStores,
  });
}
