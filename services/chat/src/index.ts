import { randomBytes } from "node:crypto";
import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { CHAT_EVENTS, currentScope, OutboxRelay, PageTokenCodec, type ServiceContext, type ServiceDefinition } from "@caas/shared";
import { ChatServiceImpl } from "./chat-service.js";
import { openChatStoresForConfig, type ChatStores } from "./chat-stores.js";
import { openChatRateLimiter, type ChatRateLimiter } from "./chat-rate-limiter.js";
import { ChatInternalServiceImpl } from "./chat-internal-service.js";
import { chatEventRecord, CommitCorrelations } from "./relay.js";
import { registerChatRoutes } from "./routes.js";

export { ChatServiceImpl, type ChatServiceDeps } from "./chat-service.js";
export { openChatRateLimiter, type ChatRateLimiter } from "./chat-rate-limiter.js";
export { ChatInternalServiceImpl, type ChatInternalDeps } from "./chat-internal-service.js";
export { openChatStores, openChatStoresForConfig, CHAT_DB_FILE, type ChatStores, type ChatBackend } from "./chat-stores.js";

/** Name of the page token secret in the ChatStateStore. */
const PAGE_TOKEN_SECRET = "page-token-secret";

/**
 * The chat service (issue #5): conversations and their settings, membership, the conversation
 * event log, idempotent and per-user rate-limited sends, history, Sync, read positions, unread counts and the changes cursor. Stores
 * come from the run mode (chat-stores.ts); the outbox relay publishes every committed event to
 * `caas.chat.events.v1` from `start()` until `drain()`. RPCs of later stages answer
 * UNIMPLEMENTED naming their issue.
 */
export async function createChatService(ctx: ServiceContext): Promise<ServiceDefinition> {
  const { config, logger, clock, bus } = ctx;
  const stores: ChatStores = await openChatStoresForConfig(config, logger, clock);
  let rate: ChatRateLimiter | undefined;
  try {
    const limiter = (rate = openChatRateLimiter(config, logger, clock));
    const secret = await stores.state.putIfAbsent(PAGE_TOKEN_SECRET, randomBytes(32).toString("base64url"), clock.nowMs());
    const correlations = new CommitCorrelations();
    const relay = new OutboxRelay({ store: stores.events, bus, topic: CHAT_EVENTS, toRecord: chatEventRecord(correlations), clock, logger });
    const pageTokens = new PageTokenCodec(Buffer.from(secret, "base64url"));
    const internal = new ChatInternalServiceImpl({ stores, pageTokens });
    const service = new ChatServiceImpl({
      stores,
      clock,
      pageTokens,
      rateLimiter: limiter.limiter,
      onCommit: (event) => {
        correlations.remember(event, currentScope()?.correlationId);
        relay.notify();
      },
    });
    let closing: Promise<void> | undefined;
    return {
      name: "chat",
      services: [ChatService, ChatInternalService],
      register: (router) => registerChatRoutes(router, service, internal),
      start: async () => relay.start(),
      drain: () => relay.stop(),
      close: () =>
        (closing ??= (async () => {
          // Calls that finished after drain() may have committed: publish them before the stores go.
          await relay.flush().catch((err: unknown) => logger.warn({ err }, "final outbox flush failed; the next start publishes it"));
          await Promise.all([stores.close(), limiter.close()]);
        })()),
    };
  } catch (err) {
    await Promise.all([stores.close(), rate?.close()]);
    throw err;
  }
}
