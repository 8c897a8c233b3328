import { createHmac } from "node:crypto";
import { SearchInternalService } from "@caas/gen/caas/search/v1/search_internal_service_pb.js";
import { SearchService } from "@caas/gen/caas/search/v1/search_service_pb.js";
import { AUTH_EVENTS, CHAT_EVENTS, USER_STATE_EVENTS } from "@caas/shared/eventing/topics";
import { chatEventsOpenedOverMesh } from "@caas/shared/sealing/data-key-client";
import { createMemoryPositionStore } from "@caas/shared/eventing/sequenced-consumer";
import { openRateLimiter } from "@caas/shared/rate-limiting/select";
import { PageTokenCodec } from "@caas/shared/page-token";
import type { ServiceContext } from "@caas/shared/service-runtime";
import type { ServiceDefinition } from "@caas/shared/server/service-host";
import type { BatchSubscription, Subscription } from "@caas/shared/eventing/bus";
import { chatInternalOverMesh, createChatConversationAccess, syncFromChat } from "./chat-access.js";
import { MessageIndexer } from "./message-indexer.js";
import { registerSearchRoutes } from "./routes.js";
import { SearchCache } from "./search-cache.js";
import { SearchInternalServiceImpl } from "./search-internal-service.js";
import { SearchServiceImpl } from "./search-service.js";
import { SchemaRebuild } from "./schema-rebuild.js";
import { openSearchStores } from "./search-stores.js";
import { applyAuthEvent, applyUserStateEvent, UserSearch } from "./user-search.js";

export { SearchInternalServiceImpl } from "./search-internal-service.js";
export { SearchServiceImpl, searchCallerOf, type SearchCaller, type SearchDeps } from "./search-service.js";
export { MessageIndexer, type MessageIndexerOptions } from "./message-indexer.js";
export { SchemaRebuild } from "./schema-rebuild.js";
export { SearchCache, ACCESS_ALLOWED_TTL_MS, ACCESS_DENIED_TTL_MS, RESULT_TTL_MS } from "./search-cache.js";
export { openSearchStores, SEARCH_DB_FILE, type SearchStores } from "./search-stores.js";
export { registerSearchRoutes } from "./routes.js";

/** Consumer groups of the search service (its instances share each). */
export const SEARCH_GROUPS = { messages: "search.messages", users: "search.users", blocks: "search.blocks" } as const;

/**
 * The search service: SearchService over the message index (SQLite FTS5 / Elasticsearch), the
 * user directory (SQLite / MongoDB) and the caller's readable conversations asked of chat
 * (ListReadableConversations, CheckAccess) with search's service token, cached (memory / Redis)
 * and invalidated by the events that change them. Consumers keep the index and directory in step
 * with chat's event log, auth's user events and chat's block events.
 */
export async function createSearchService(ctx: ServiceContext): Promise<ServiceDefinition> {
  const { config, logger, clock, peers, serviceSecret, bus } = ctx;
  if (!serviceSecret) throw new Error("the search service needs CAAS_SERVICE_SECRET: it asks chat what a user may read with a service token");
  // Every instance derives the same page-token key, so a page from one continues on another.
  const pageTokens = new PageTokenCodec(createHmac("sha256", serviceSecret).update("caas search page tokens").digest());
  const stores = await openSearchStores(config, logger, clock, pageTokens);
  const rate = await openRateLimiter(config, logger, clock, { service: "search", prefix: "caas:search" });
  const chat = chatInternalOverMesh({ peers, serviceSecret, clock });
  const cache = new SearchCache(stores.cache, createChatConversationAccess(chat));
  const rule = config.rateLimits.perUser.search;
  const service = new SearchServiceImpl({
    index: stores.index,
    cache,
    users: new UserSearch(stores.directory, pageTokens),
    pageTokens,
    limiter: rate.limiter,
    rate: { capacity: rule.limit, refillPerSec: (rule.limit / rule.windowMs) * 1000, tenantFactor: config.rateLimits.tenantFactor },
  });
  const indexer = new MessageIndexer({
    index: stores.index,
    cache,
    positions: createMemoryPositionStore(),
    fetchAfter: syncFromChat(chat),
    logger,
    clock,
    visibilityDelayMs: stores.visibilityDelayMs,
  });
  const rebuild = new SchemaRebuild({ index: stores.index, chat, indexer, logger });
  let messages: BatchSubscription | undefined;
  const internal = new SearchInternalServiceImpl({ chat, indexer, clock, rebuild, partitions: async () => (messages ? messages.lag() : []), index: stores.index, directory: stores.directory });
  const subscriptions: Promise<Subscription | undefined>[] = [];
  const subscribe = (what: string, open: () => Promise<Subscription>) =>
    subscriptions.push(
      open().catch((err: unknown) => {
        logger.error({ err }, `search could not subscribe to ${what}: it is not kept up to date`);
        return undefined;
      }),
    );
  let closing: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await rebuild.stop();
      for (const s of await Promise.all(subscriptions)) await s?.close();
      indexer.stop();
    })());
  return {
    name: "search",
    services: [SearchService, SearchInternalService],
    register: (router) => registerSearchRoutes(router, service, internal),
    start: async () => {
      // Batches: one index write per batch (not per record); committed only once it resolved.
      subscribe("chat events", async () => {
        messages = await chatEventsOpenedOverMesh(ctx, "search").subscribeBatches(
          CHAT_EVENTS,
          { group: SEARCH_GROUPS.messages, from: "earliest", maxRecords: 1000 },
          async (b) => void (await indexer.handleBatch(b.records.map((r) => r.value))),
        );
        return messages;
      });
      rebuild.start();
      subscribe("auth events", () => bus.subscribe(AUTH_EVENTS, { group: SEARCH_GROUPS.users, from: "earliest" }, (r) => applyAuthEvent(stores.directory, r.value)));
      subscribe("user state events", () => bus.subscribe(USER_STATE_EVENTS, { group: SEARCH_GROUPS.blocks, from: "earliest" }, (r) => applyUserStateEvent(stores.directory, r.value)));
      logger.info({ groups: SEARCH_GROUPS }, "search consumers started");
    },
    drain: stop,
    close: () =>
      (closing ??= (async () => {
        await stop();
        await stores.close();
        await rate.close();
      })()),
  };
}
