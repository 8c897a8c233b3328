import { twoMongoInstances, twoSqliteInstances, type OpenTwoInstances } from "@caas/shared/testing";
import { migrateCryptoMongo, type CryptoMongoDb } from "../../src/adapters/crypto-mongo.js";
import { openCryptoSqlite } from "../../src/adapters/crypto-sqlite.js";
import { createMongoDeviceHistoryStore } from "../../src/adapters/device-history-store-mongo.js";
import { createSqliteDeviceHistoryStore } from "../../src/adapters/device-history-store-sqlite.js";
import { createMongoKeyStore } from "../../src/adapters/key-store-mongo.js";
import { createSqliteKeyStore } from "../../src/adapters/key-store-sqlite.js";
import type { DeviceHistoryStore } from "../../src/ports/device-history-store.js";
import type { KeyStore } from "../../src/ports/key-store.js";

/** The crypto stores of one instance. */
export interface CryptoStoreSet {
  keys: KeyStore;
  history: DeviceHistoryStore;
}

/** Two crypto instances on one fresh SQLite file per call. */
export function sqliteCryptoStores(dir: string): OpenTwoInstances<CryptoStoreSet> {
  return twoSqliteInstances({
    dir,
    name: "crypto",
    open: (path) => openCryptoSqlite({ path }),
    make: (db) => ({ keys: createSqliteKeyStore({ db }), history: createSqliteDeviceHistoryStore({ db }) }),
  });
}

/** Two crypto instances on a fresh collection prefix per call. */
export function mongoCryptoStores(url: string, dbName: string): OpenTwoInstances<CryptoStoreSet> {
  return twoMongoInstances<CryptoMongoDb, CryptoStoreSet>({
    url,
    dbName,
    name: "crypto",
    migrate: (db, collectionPrefix) => migrateCryptoMongo({ db, collectionPrefix }),
    make: (db, collectionPrefix) => ({ keys: createMongoKeyStore({ db, collectionPrefix }), history: createMongoDeviceHistoryStore({ db, collectionPrefix }) }),
  });
}
