import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "@caas/shared/config";
import type { Logger } from "@caas/shared/logger";
import type { MigrationResult } from "@caas/shared/migrations";
import type { CryptoMongoDb } from "./adapters/crypto-mongo.js";
import { openCryptoSqlite } from "./adapters/crypto-sqlite.js";
import { createSqliteDeviceHistoryStore } from "./adapters/device-history-store-sqlite.js";
import { createSqliteKeyStore } from "./adapters/key-store-sqlite.js";
import type { DeviceHistoryStore } from "./ports/device-history-store.js";
import type { KeyStore } from "./ports/key-store.js";

/** Crypto's SQLite file under the data directory (embedded mode). */
export const CRYPTO_DB_FILE = "crypto.db";

/** Where the crypto stores live. */
export type CryptoBackend = { kind: "sqlite"; path: string } | { kind: "mongo"; url: string; database: string; appName: string; collectionPrefix?: string };

/** The crypto service's stores on one backend; `close` releases the connection. */
export interface CryptoStores {
  keys: KeyStore;
  history: DeviceHistoryStore;
  close(): Promise<void>;
}

/**
 * The one place the crypto store adapters are chosen: embedded mode uses `<dataDir>/crypto.db`,
 * cluster mode MongoDB (CAAS_MONGO_URL, CAAS_MONGO_DB) with `crypto_`-prefixed collections.
 */
export async function openCryptoStoresForConfig(config: Config, logger: Logger): Promise<CryptoStores> {
  switch (config.mode) {
    case "embedded": {
      await mkdir(config.dataDir, { recursive: true });
      const path = join(config.dataDir, CRYPTO_DB_FILE);
      logger.info({ adapter: "sqlite", path }, "crypto stores");
      return openCryptoStores({ kind: "sqlite", path }, { logger });
    }
    case "cluster": {
      const url = config.cluster.mongoUrl;
      if (!url) throw new Error("the crypto service needs CAAS_MONGO_URL in cluster mode");
      logger.info({ adapter: "mongodb", database: config.cluster.mongoDb }, "crypto stores");
      return openCryptoStores({ kind: "mongo", url, database: config.cluster.mongoDb, appName: config.instanceId }, { logger });
    }
  }
}

/** Opens (and migrates) the crypto stores on one backend. Tests call it directly. */
export async function openCryptoStores(backend: CryptoBackend, deps: { logger?: Logger } = {}): Promise<CryptoStores> {
  const onMigrated = (result: MigrationResult) => deps.logger?.info(result, "crypto schema migrated");
  switch (backend.kind) {
    case "sqlite": {
      const db = await openCryptoSqlite({ path: backend.path, onMigrated });
      let closed = false;
      return {
        keys: createSqliteKeyStore({ db }),
        history: createSqliteDeviceHistoryStore({ db }),
        close: async () => {
          if (closed) return;
          closed = true;
          db.close();
        },
      };
    }
    case "mongo": {
      // Loaded here, not at import: embedded mode never needs the MongoDB driver.
      const [{ connectMongo }, { migrateCryptoMongo }, { createMongoKeyStore }, { createMongoDeviceHistoryStore }] = await Promise.all([
        import("@caas/shared/mongo"),
        import("./adapters/crypto-mongo.js"),
        import("./adapters/key-store-mongo.js"),
        import("./adapters/device-history-store-mongo.js"),
      ]);
      const conn = await connectMongo(backend.url, backend.database, { appName: backend.appName });
      try {
        const db = conn.database(backend.database) as CryptoMongoDb;
        const collectionPrefix = backend.collectionPrefix ?? "crypto_";
        await migrateCryptoMongo({ db, collectionPrefix, onMigrated });
        let closing: Promise<void> | undefined;
        return {
          keys: createMongoKeyStore({ db, collectionPrefix }),
          history: createMongoDeviceHistoryStore({ db, collectionPrefix }),
          close: () => (closing ??= conn.close()),
        };
      } catch (err) {
        await conn.close();
        throw err;
      }
    }
  }
}
