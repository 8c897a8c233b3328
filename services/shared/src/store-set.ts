import { join } from "node:path";
import type { Config } from "./config.js";
import { ensurePrivateDir } from "./data-dir.js";
import type { Logger } from "./logger.js";
import type { MongoDb } from "./adapters/mongo-client.js";

/** Where one service's stores live: a SQLite file (embedded mode) or a MongoDB database (cluster mode). */
export type StoreBackend = { kind: "sqlite"; path: string } | { kind: "mongo"; url: string; database: string; appName: string; collectionPrefix?: string };

/** Anything a store set holds: each store closes itself. */
export interface ClosableStore {
  close(): Promise<void>;
}

/** A service's stores on an open SQLite database, and how to release that database. */
export interface SqliteStoreSet<S> {
  stores: S;
  release: () => Promise<void>;
}

/**
 * How one service builds its stores on each backend. `sqlite` opens (and migrates) its file;
 * `mongo` migrates and builds on a connected database (the connection is the opener's).
 * Each is called only for its backend, so a service keeps its Mongo adapters behind a dynamic
 * import and the embedded mode never loads the driver.
 */
export interface StoreSetBuilders<S> {
  sqlite(path: string): Promise<SqliteStoreSet<S>>;
  mongo(db: MongoDb, collectionPrefix: string | undefined): Promise<S>;
}

/**
 * The backend of the run mode for `service`: `<dataDir>/<sqliteFile>` in embedded mode (the
 * directory is created owner-only), MongoDB (CAAS_MONGO_URL, CAAS_MONGO_DB) in cluster mode. The choice is
 * logged.
 */
export async function storeBackendForConfig(config: Config, logger: Logger, service: string, sqliteFile: string): Promise<StoreBackend> {
  switch (config.mode) {
    case "embedded": {
      await ensurePrivateDir(config.dataDir);
      const path = join(config.dataDir, sqliteFile);
      logger.info({ adapter: "sqlite", path }, `${service} stores`);
      return { kind: "sqlite", path };
    }
    case "cluster": {
      const url = config.cluster.mongoUrl;
      if (!url) throw new Error(`the ${service} service needs CAAS_MONGO_URL in cluster mode`);
      logger.info({ adapter: "mongodb", database: config.cluster.mongoDb }, `${service} stores`);
      return { kind: "mongo", url, database: config.cluster.mongoDb, appName: config.instanceId };
    }
  }
}

/**
 * Opens a service's stores on one backend. The result's `close` closes every store, then the
 * database or connection they share; it is idempotent. A failure while building closes the
 * connection before it is thrown.
 */
export async function openStoreSet<S extends object>(backend: StoreBackend, build: StoreSetBuilders<S>): Promise<S & { close(): Promise<void> }> {
  switch (backend.kind) {
    case "sqlite": {
      const { stores, release } = await build.sqlite(backend.path);
      return withClose(stores, release);
    }
    case "mongo": {
      // Loaded here, not at import: the embedded mode never needs the driver.
      const { connectMongo } = await import("./adapters/mongo-client.js");
      const conn = await connectMongo(backend.url, backend.database, { appName: backend.appName });
      try {
        const db = conn.database(backend.database);
        return withClose(await build.mongo(db, backend.collectionPrefix), () => conn.close());
      } catch (err) {
        await conn.close();
        throw err;
      }
    }
  }
}

function withClose<S extends object>(stores: S, release: () => Promise<void>): S & { close(): Promise<void> } {
  let closing: Promise<void> | undefined;
  return {
    ...stores,
    close: () =>
      (closing ??= (async () => {
        for (const s of Object.values(stores) as unknown[]) {
          if (typeof s === "object" && s !== null && typeof (s as ClosableStore).close === "function") await (s as ClosableStore).close();
        }
        await release();
      })()),
  };
}
