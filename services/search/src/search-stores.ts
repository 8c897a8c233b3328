import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { connectMongo } from "@caas/shared/mongo";
import { createRedisClient } from "@caas/shared/redis";
import { openSqliteDatabase } from "@caas/shared/sqlite";
import type { Clock } from "@caas/shared/clock";
import type { Config } from "@caas/shared/config";
import type { Logger } from "@caas/shared/logger";
import type { PageTokenCodec } from "@caas/shared/page-token";
import { createMemoryCache } from "./adapters/cache-memory.js";
import { createRedisCache } from "./adapters/cache-redis.js";
import { createElasticsearchSearchIndex } from "./adapters/search-index-elasticsearch.js";
import { createSqliteSearchIndex } from "./adapters/search-index-sqlite.js";
import { createMongoUserDirectory, migrateDirectoryMongo, type DirectoryMongoDb } from "./adapters/user-directory-mongo.js";
import { createSqliteUserDirectory } from "./adapters/user-directory-sqlite.js";
import type { UserDirectory } from "./ports/user-directory.js";
import type { Cache } from "./ports/cache.js";
import type { SearchIndex } from "./ports/search-index.js";

/** Search's SQLite file under the data directory (embedded mode). */
export const SEARCH_DB_FILE = "search.db";

/** The largest cached value: a user's list of readable conversations (up to 10 000 of them). */
const CACHE_MAX_VALUE_BYTES = 2 * 1024 * 1024;

/** What the search service keeps its data in, and how to let go of it. */
export interface SearchStores {
  index: SearchIndex;
  cache: Cache;
  directory: UserDirectory;
  /** How long after a write the index makes it searchable (see MessageIndexer). */
  visibilityDelayMs: number;
  close(): Promise<void>;
}

/**
 * The one place the search service's adapters are chosen from the run mode: embedded, SQLite
 * FTS5 and the user directory in `<dataDir>/search.db` and an in-process cache; cluster,
 * Elasticsearch (CAAS_ELASTICSEARCH_URL, names under CAAS_ELASTICSEARCH_INDEX_PREFIX), MongoDB
 * for the user directory (CAAS_MONGO_URL, `search_` collections) and Redis (CAAS_REDIS_URL),
 * shared by every search instance. The choice is logged.
 */
export async function openSearchStores(config: Config, logger: Logger, clock: Clock, pageTokens: PageTokenCodec): Promise<SearchStores> {
  switch (config.mode) {
    case "embedded": {
      await mkdir(config.dataDir, { recursive: true });
      const path = join(config.dataDir, SEARCH_DB_FILE);
      const db = openSqliteDatabase(path);
      try {
        const index = await createSqliteSearchIndex({ db, clock, pageTokens, onMigrated: (r) => logger.info(r, "search index schema migrated") });
        const directory = await createSqliteUserDirectory({ db, onMigrated: (r) => logger.info(r, "user directory schema migrated") });
        logger.info({ index: "sqlite", directory: "sqlite", path, cache: "memory" }, "search stores");
        const cache = createMemoryCache({ clock, maxValueBytes: CACHE_MAX_VALUE_BYTES });
        return {
          index,
          cache,
          directory,
          visibilityDelayMs: 0,
          close: async () => {
            await index.close();
            db.close();
          },
        };
      } catch (err) {
        db.close();
        throw err;
      }
    }
    case "cluster": {
      const { elasticsearchUrl, elasticsearchIndexPrefix, redisUrl, mongoUrl, mongoDb } = config.cluster;
      if (!mongoUrl) throw new Error("the search service needs CAAS_MONGO_URL in cluster mode (user directory)");
      if (!elasticsearchUrl) throw new Error("the search service needs CAAS_ELASTICSEARCH_URL in cluster mode");
      if (!redisUrl) throw new Error("the search service needs CAAS_REDIS_URL in cluster mode (search caches)");
      const mongo = await connectMongo(mongoUrl, mongoDb, { appName: config.instanceId });
      let index: SearchIndex;
      let directory: UserDirectory;
      try {
        const db = mongo.database(mongoDb) as unknown as DirectoryMongoDb;
        await migrateDirectoryMongo(db, "search_", (r) => logger.info(r, "user directory schema migrated"));
        directory = createMongoUserDirectory({ db });
        index = await createElasticsearchSearchIndex({ node: elasticsearchUrl, indexPrefix: elasticsearchIndexPrefix, pageTokens });
      } catch (err) {
        await mongo.close();
        throw err;
      }
      const redis = createRedisClient(redisUrl, {
        connectionName: `${config.instanceId}-search-cache`,
        onError: (err) => logger.warn({ err }, "search cache Redis connection error"),
      });
      logger.info({ index: "elasticsearch", indexPrefix: elasticsearchIndexPrefix, directory: "mongodb", cache: "redis" }, "search stores");
      return {
        index,
        directory,
        cache: createRedisCache({ redis, prefix: "caas:search", maxValueBytes: CACHE_MAX_VALUE_BYTES }),
        // Elasticsearch makes writes searchable at its refresh interval (1 s by default).
        visibilityDelayMs: 1_500,
        close: async () => {
          await index.close();
          await redis.close();
          await mongo.close();
        },
      };
    }
  }
}
