import { join } from "node:path";
import { connectMongo, ensurePrivateDir, type Config, type Logger, type MigrationResult } from "@caas/shared";
import { migrateMediaMongo, type MediaMongoDb } from "./adapters/media-mongo.js";
import { openMediaSqlite } from "./adapters/media-sqlite.js";
import { createMongoMediaStore } from "./adapters/media-store-mongo.js";
import { createSqliteMediaStore } from "./adapters/media-store-sqlite.js";
import type { MediaStore } from "./ports/media-store.js";

/** Media's SQLite file under the data directory (embedded mode). */
export const MEDIA_DB_FILE = "media.db";

/** Where the media store lives. */
export type MediaBackend =
  | { kind: "sqlite"; path: string }
  | { kind: "mongo"; url: string; database: string; appName: string; collectionPrefix?: string };

/**
 * The one place the media store adapter is chosen: embedded mode uses `<dataDir>/media.db`,
 * cluster mode MongoDB (CAAS_MONGO_URL, CAAS_MONGO_DB) with `media_`-prefixed collections.
 */
export async function openMediaStoreForConfig(config: Config, logger: Logger): Promise<MediaStore> {
  switch (config.mode) {
    case "embedded": {
      await ensurePrivateDir(config.dataDir);
      const path = join(config.dataDir, MEDIA_DB_FILE);
      logger.info({ adapter: "sqlite", path }, "media store");
      return openMediaStore({ kind: "sqlite", path }, { logger });
    }
    case "cluster": {
      const url = config.cluster.mongoUrl;
      if (!url) throw new Error("the media service needs CAAS_MONGO_URL in cluster mode");
      logger.info({ adapter: "mongodb", database: config.cluster.mongoDb }, "media store");
      return openMediaStore({ kind: "mongo", url, database: config.cluster.mongoDb, appName: config.instanceId }, { logger });
    }
  }
}

/** Opens (and migrates) the media store on one backend; its `close` releases the connection. Tests call it directly. */
export async function openMediaStore(backend: MediaBackend, deps: { logger?: Logger } = {}): Promise<MediaStore> {
  const onMigrated = (result: MigrationResult) => deps.logger?.info(result, "media schema migrated");
  switch (backend.kind) {
    case "sqlite": {
      const db = await openMediaSqlite({ path: backend.path, onMigrated });
      return withRelease(createSqliteMediaStore({ db }), async () => {
        db.close();
      });
    }
    case "mongo": {
      const conn = await connectMongo(backend.url, backend.database, { appName: backend.appName });
      try {
        const db = conn.database(backend.database) as MediaMongoDb;
        const collectionPrefix = backend.collectionPrefix ?? "media_";
        await migrateMediaMongo({ db, collectionPrefix, onMigrated });
        return withRelease(createMongoMediaStore({ db, collectionPrefix }), () => conn.close());
      } catch (err) {
        await conn.close();
        throw err;
      }
    }
  }
}

function withRelease(store: MediaStore, release: () => Promise<void>): MediaStore {
  let closing: Promise<void> | undefined;
  return {
    ...store,
    close: () =>
      (closing ??= (async () => {
        await store.close();
        await release();
      })()),
  };
}
