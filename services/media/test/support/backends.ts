import { twoMongoInstances, twoSqliteInstances, type OpenTwoInstances } from "@caas/shared/testing";
import { migrateMediaMongo, type MediaMongoDb } from "../../src/adapters/media-mongo.js";
import { openMediaSqlite } from "../../src/adapters/media-sqlite.js";
import { createMongoMediaStore } from "../../src/adapters/media-store-mongo.js";
import { createSqliteMediaStore } from "../../src/adapters/media-store-sqlite.js";
import type { MediaStore } from "../../src/ports/media-store.js";

/** Two media instances on one fresh SQLite file per call. */
export function sqliteMediaStores(dir: string): OpenTwoInstances<MediaStore> {
  return twoSqliteInstances({ dir, name: "media", open: (path) => openMediaSqlite({ path }), make: (db) => createSqliteMediaStore({ db }) });
}

/** Two media instances on a fresh collection prefix per call. */
export function mongoMediaStores(url: string, dbName: string): OpenTwoInstances<MediaStore> {
  return twoMongoInstances<MediaMongoDb, MediaStore>({
    url,
    dbName,
    name: "media",
    migrate: (db, collectionPrefix) => migrateMediaMongo({ db, collectionPrefix }),
    make: (db, collectionPrefix) => createMongoMediaStore({ db, collectionPrefix }),
  });
}
