import { randomBytes } from "node:crypto";
import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { MessageKeysInternalService } from "@caas/gen/caas/chat/v1/message_keys_internal_service_pb.js";
import { MediaInternalService } from "@caas/gen/caas/media/v1/media_internal_service_pb.js";
import { AuthInternalService } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { bucketOf } from "@caas/shared/rate-limiting/rules";
import { CHAT_EVENTS, USER_STATE_EVENTS } from "@caas/shared/eventing/topics";
import { createPeerClient } from "@caas/shared/clients";
import { createPeerServiceTokenSource } from "@caas/shared/identity/service-tokens";
import { currentScope } from "@caas/shared/context";
import { OutboxRelay } from "@caas/shared/eventing/outbox-relay";
import { PageTokenCodec } from "@caas/shared/page-token";
import type { ServiceContext } from "@caas/shared/service-runtime";
import type { ServiceDefinition } from "@caas/shared/server/service-host";
import { ChatServiceImpl } from "./chat-service.js";
import { openChatStoresForConfig, type ChatStores } from "./chat-stores.js";
import { openChatRateLimiter, type ChatRateLimiter } from "./chat-rate-limiter.js";
import { ChatInternalServiceImpl } from "./chat-internal-service.js";
import { chatEventRecord, CommitCorrelations } from "./relay.js";
import { registerChatRoutes } from "./routes.js";
import { withBusScrub } from "./bus-scrub.js";
import { openTenantPolicies } from "./tenant-policy.js";
import { createGrpcMediaAttacher, unavailableMediaAttacher } from "./adapters/media-attacher-grpc.js";
import type { MediaAttacher } from "./ports/media-attacher.js";
import { createGrpcUserDirectory } from "./adapters/user-directory-grpc.js";
import type { UserDirectory } from "./ports/user-directory.js";
import { startProjector, type RunningProjector } from "./projections/projector-runner.js";
import { ProjectedCommits } from "./projections/projected-commits.js";
import { startMediaDetach } from "./media-detach.js";
import type { RunningChatConsumer } from "./chat-consumer.js";
import { openKmsForConfig } from "@caas/shared/sealing/kms-select";
import { openingChatEvents } from "@caas/shared/sealing/opening-bus";
import { MessageKeyring } from "./message-keyring.js";
import { MessageKeysService } from "./message-keys-service.js";
import { Reencryption } from "./reencryption.js";
import { sealedConversations } from "./sealed-conversations.js";
import { sealedEventLog } from "./sealed-event-log.js";

/** Name of the page token secret in the ChatStateStore. */
const PAGE_TOKEN_SECRET = "page-token-secret";

/**
 * The chat service: conversations and their settings, membership, the conversation
 * event log, idempotent and per-user rate-limited sends, history, Sync, read positions, unread counts and the changes cursor. Stores
 * come from the run mode (chat-stores.ts); the outbox relay publishes every committed event to
 * `caas.chat.events.v1` from `start()` until `drain()`. Message attachments are attached
 * through the media service before the commit (openMediaAttacher), and detached again by a
 * consumer of the chat events once their message is deleted for everyone (startMediaDetach).
 */
export async function createChatService(ctx: ServiceContext): Promise<ServiceDefinition> {
  const { config, logger, clock } = ctx;
  // Erasure and retention scrub the embedded bus file's copies of redacted bodies too.
  const stored: ChatStores = withBusScrub(await openChatStoresForConfig(config, logger, clock), ctx.bus);
  let rate: ChatRateLimiter | undefined;
  try {
    // Message bodies are sealed at rest with per-tenant data keys (ADR 0120): the log and the
    // previews through these decorators; chat's own consumers open the sealed bus records.
    const keyring = new MessageKeyring({ store: stored.dataKeys, kms: await openKmsForConfig(config, logger), clock });
    const sealing = { sealWrites: config.atRestEncryption };
    const stores: ChatStores = { ...stored, events: sealedEventLog(stored.events, keyring, sealing), conversations: sealedConversations(stored.conversations, keyring, sealing) };
    const bus = openingChatEvents(ctx.bus, keyring);
    const reencryption = new Reencryption({ events: stored.events, conversations: stored.conversations, keys: keyring, store: stored.dataKeys, clock, logger });
    const messageKeys = new MessageKeysService({ keys: keyring, reencryption, scrub: () => stored.scrub(), logger });
    const limiter = (rate = await openChatRateLimiter(config, logger, clock));
    const secret = await stores.state.putIfAbsent(PAGE_TOKEN_SECRET, randomBytes(32).toString("base64url"), clock.nowMs());
    const correlations = new CommitCorrelations();
    // What the commit path projected, no projector applies again (the relay marks it on the bus).
    const projected = new ProjectedCommits();
    const relay = new OutboxRelay({ store: stores.events, bus, topic: CHAT_EVENTS, toRecord: chatEventRecord(correlations, projected), clock, logger });
    const pageTokens = new PageTokenCodec(Buffer.from(secret, "base64url"));
    // The tenants' ABAC role grants from auth, cached until TenantSettingsChanged (ADR 0020).
    const policies = openTenantPolicies(ctx);
    const internal = new ChatInternalServiceImpl({ stores, pageTokens });
    const media = openMediaAttacher(ctx);
    const users = openUserDirectory(ctx);
    const service = new ChatServiceImpl({
      projected,
      stores,
      clock,
      pageTokens,
      rateLimiter: limiter.limiter,
      policyFor: policies.lookup,
      media,
      ...(users ? { users } : {}),
      // Every send (SendMessage, ForwardMessage, realtime send frames) is counted here and only
      // here: the message.send rate of CAAS_RATE_LIMITS, per user and per tenant (ADR 0023).
      limits: {
        sendRate: bucketOf(config.rateLimits.perUser["message.send"]),
        sendTenantFactor: config.rateLimits.tenantFactor,
        maxPendingSends: config.limits.chatMaxPendingSends,
        sendTargetMs: config.limits.chatSendTargetMs,
      },
      onCommit: (event) => {
        correlations.remember(event, currentScope()?.correlationId);
        // Published from memory by this instance (ADR 0215): the sweeper covers a crash before it.
        relay.notify(event);
      },
      // Marker moves are committed before this runs and are in GetChanges: a failed live push is logged, not an error.
      publishUserState: (record) =>
        bus.publish(USER_STATE_EVENTS, [record]).catch((err: unknown) => logger.warn({ err, key: record.key }, "user state record not published; clients catch up through GetChanges")),
    });
    let closing: Promise<void> | undefined;
    let projector: RunningProjector | undefined;
    let detach: RunningChatConsumer | undefined;
    return {
      name: "chat",
      services: [ChatService, ChatInternalService, MessageKeysInternalService],
      register: (router) => {
        registerChatRoutes(router, service, internal);
        router.service(MessageKeysInternalService, messageKeys);
      },
      start: async () => {
        relay.start();
        await policies.start();
        projector = startProjector({ stores, bus, logger, projected });
        detach = startMediaDetach({ bus, media, logger });
        // Runs cut short by a restart go on in the background from their last saved page.
        void reencryption.resumeAll().catch((err: unknown) => logger.warn({ err }, "re-encryption runs not resumed; RotateDataKey starts them again"));
      },
      drain: async () => {
        await Promise.all([relay.stop(), projector?.stop(), detach?.stop(), policies.stop(), reencryption.stop()]);
      },
      close: () =>
        (closing ??= (async () => {
          // Calls that finished after drain() may have committed: publish them before the stores go.
          await relay.flush().catch((err: unknown) => logger.warn({ err }, "final outbox flush failed; the next start publishes it"));
          await Promise.all([projector?.stop(), detach?.stop()]);
          await Promise.all([stores.close(), limiter.close()]);
        })()),
    };
  } catch (err) {
    await Promise.all([stored.close(), rate?.close()]);
    throw err;
  }
}

/**
 * Attachments go through the media service (MediaInternalService.AttachMedia with chat's service
 * token), in both run modes over the mesh: in embedded mode the platform fills in media's address
 * once it binds. Without a service secret chat cannot call it, and sends with attachments are
 * UNAVAILABLE; so are they while media cannot be reached.
 */
function openMediaAttacher(ctx: ServiceContext): MediaAttacher {
  const { logger, peers, clock, serviceSecret } = ctx;
  if (!serviceSecret) {
    logger.warn("no service secret: messages with attachments are refused (UNAVAILABLE)");
    return unavailableMediaAttacher("this chat instance has no service secret to call the media service with (CAAS_SERVICE_SECRET)");
  }
  const tokens = createPeerServiceTokenSource({ service: "chat", root: serviceSecret, peers, clock });
  const client = createPeerClient(MediaInternalService, "media", peers, { defaultTimeoutMs: 5_000 });
  return createGrpcMediaAttacher({ client, serviceToken: () => tokens.token("media") });
}

/**
 * Member ids are checked against auth's users (AuthInternalService.BatchGetUsers with chat's
 * service token). Without a service secret chat cannot call auth, and member ids are then taken
 * as given (logged once at start).
 */
function openUserDirectory(ctx: ServiceContext): UserDirectory | undefined {
  const { logger, peers, clock, serviceSecret } = ctx;
  if (!serviceSecret) {
    logger.warn("no service secret: conversation member ids are not checked against the tenant's users");
    return undefined;
  }
  const tokens = createPeerServiceTokenSource({ service: "chat", root: serviceSecret, peers, clock });
  const client = createPeerClient(AuthInternalService, "auth", peers, { defaultTimeoutMs: 5_000 });
  return createGrpcUserDirectory({ client, serviceToken: () => tokens.token("auth") });
}
