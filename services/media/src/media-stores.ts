import type { Config } from "@caas/shared/config";
import type { Logger } from "@caas/shared/logger";
import type { MigrationResult } from "@caas/shared/migrations";
import { openStoreSet, storeBackendForConfig, type StoreBackend } from "@caas/shared/store-set";
import type { MediaMongoDb } from "./adapters/media-mongo.js";
import { openMediaSqlite } from "./adapters/media-sqlite.js";
import { createSqliteMediaStore } from "./adapters/media-store-sqlite.js";
import type { MediaStore } from "./ports/media-store.js";

/** Media's SQLite file under the data directory (embedded mode). */
export const MEDIA_DB_FILE = "media.db";

/** Where the media store lives. */
export type MediaBackend = StoreBackend;

/**
 * The one place the media store adapter is chosen: embedded mode uses `<dataDir>/media.db`,
 * cluster mode MongoDB (CAAS_MONGO_URL, CAAS_MONGO_DB) with `media_`-prefixed collections.
 */
export async function openMediaStoreForConfig(config: Config, logger: Logger): Promise<MediaStore> {
  return openMediaStore(await storeBackendForConfig(config, logger, "media", MEDIA_DB_FILE), { logger });
}

/** Opens (and migrates) the media store on one backend; its `close` releases the connection. Tests call it directly. */
export async function openMediaStore(backend: MediaBackend, deps: { logger?: Logger } = {}): Promise<MediaStore> {
  const onMigrated = (result: MigrationResult) => deps.logger?.info(result, "media schema migrated");
  const set = await openStoreSet(backend, {
    sqlite: async (path) => {
      const db = await openMediaSqlite({ path, onMigrated });
      return {
        stores: { media: createSqliteMediaStore({ db }) },
        release: async () => {
          db.close();
        },
      };
    },
    mongo: async (db, prefix) => {
      // Cluster mode only: the Mongo adapter (and the driver) load here.
      const [{ migrateMediaMongo }, { createMongoMediaStore }] = await Promise.all([import("./adapters/media-mongo.js"), import("./adapters/media-store-mongo.js")]);
      const collectionPrefix = prefix ?? "media_";
      await migrateMediaMongo({ db, collectionPrefix, onMigrated });
      return { media: createMongoMediaStore({ db: db as MediaMongoDb, collectionPrefix }) };
    },
  });
  // The store's own close, widened to release the database it sits on.
  return { ...set.media, close: () => set.close() };
}
