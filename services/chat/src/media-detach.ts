import { Code, ConnectError } from "@connectrpc/connect";
import { scopeFromEvent } from "@caas/shared/tenant-scope";
import type { EventBus } from "@caas/shared/eventing/bus";
import type { Logger } from "@caas/shared/logger";
import { startChatConsumer, type RunningChatConsumer } from "./chat-consumer.js";
import type { MediaAttacher } from "./ports/media-attacher.js";

/** The consumer group that detaches deleted messages' media; chat's instances share it. */
export const MEDIA_DETACH_GROUP = "chat.media-detach";

/** Answers that will not change on a retry: the record is logged and skipped. */
const PERMANENT = new Set([Code.InvalidArgument, Code.NotFound, Code.FailedPrecondition, Code.OutOfRange, Code.Unimplemented]);

/**
 * Detaches the media of messages deleted for everyone (MessageDeleted.media_ids) from their
 * conversation through the media service, from `caas.chat.events.v1` in a group of its own, so
 * a slow or unreachable media service delays only this and never the projections. At least
 * once: a failure the media service may get over (unreachable, overloaded, a refused service
 * token) is retried by the bus and blocks this group's partition until it succeeds; an answer
 * that cannot change is logged and skipped. DetachMedia is idempotent, so redelivery is harmless.
 */
export function startMediaDetach(opts: { bus: EventBus; media: MediaAttacher; logger: Logger }): RunningChatConsumer {
  const { media, logger } = opts;
  return startChatConsumer({
    bus: opts.bus,
    group: MEDIA_DETACH_GROUP,
    logger,
    unsubscribed: "deleted messages' media stay readable by members",
    async handle({ tenantId, conversationId, payload }) {
      if (payload.case !== "event") return;
      const deleted = payload.value.payload;
      if (deleted.case !== "messageDeleted" || deleted.value.mediaIds.length === 0) return;
      try {
        await media.detach(scopeFromEvent({ tenantId }), conversationId, deleted.value.mediaIds);
      } catch (err) {
        const code = err instanceof ConnectError ? err.code : undefined;
        if (code === undefined || !PERMANENT.has(code)) throw err;
        logger.error({ err, tenantId, conversationId, mediaIds: deleted.value.mediaIds }, "media of a deleted message could not be detached; skipped");
      }
    },
  });
}
