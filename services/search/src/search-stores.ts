import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { openSqliteDatabase } from "@caas/shared/sqlite";
import type { Clock } from "@caas/shared/clock";
import type { Config } from "@caas/shared/config";
import type { Logger } from "@caas/shared/logger";
import type { PageTokenCodec } from "@caas/shared/page-token";
import { createMemoryCache } from "./adapters/cache-memory.js";
import { createSqliteSearchIndex } from "./adapters/search-index-sqlite.js";
import { createSqliteUserDirectory } from "./adapters/user-directory-sqlite.js";
import { CACHE_MAX_VALUE_BYTES, type SearchStores } from "./ports/search-stores.js";

export type { SearchStores } from "./ports/search-stores.js";

/** Search's SQLite file under the data directory (embedded mode). */
export const SEARCH_DB_FILE = "search.db";

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
      // Loaded here, not at import: embedded mode never needs the Elasticsearch, MongoDB or Redis clients.
      const { openClusterSearchStores } = await import("./search-stores-cluster.js");
      return openClusterSearchStores(config, logger, pageTokens);
    }
  }
}
