import { connectMongo } from "@caas/shared/mongo";
import { createRedisClient } from "@caas/shared/redis";
import type { Config } from "@caas/shared/config";
import type { Logger } from "@caas/shared/logger";
import type { PageTokenCodec } from "@caas/shared/page-token";
import { createRedisCache } from "./adapters/cache-redis.js";
import { createElasticsearchSearchIndex } from "./adapters/search-index-elasticsearch.js";
import { createMongoUserDirectory, migrateDirectoryMongo, type DirectoryMongoDb } from "./adapters/user-directory-mongo.js";
import type { SearchIndex } from "./ports/search-index.js";
import { CACHE_MAX_VALUE_BYTES, type SearchStores } from "./ports/search-stores.js";
import type { UserDirectory } from "./ports/user-directory.js";

/**
 * Search's cluster-mode stores: Elasticsearch for the message index, MongoDB for the user
 * directory and Redis for the caches. Loaded only in cluster mode (search-stores.ts imports it
 * on demand), so the embedded platform never loads those clients.
 */
export async function openClusterSearchStores(config: Config, logger: Logger, pageTokens: PageTokenCodec): Promise<SearchStores> {
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
