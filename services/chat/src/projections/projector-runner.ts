import type { EventBus } from "@caas/shared/eventing/bus";
import type { Logger } from "@caas/shared/logger";
import { startChatConsumer } from "../chat-consumer.js";
import { PROJECTED_HEADER } from "../relay.js";
import { ChatProjector, type ProjectorStores } from "./chat-projector.js";
import type { ProjectedCommits } from "./projected-commits.js";
import { POSITION_WRITE_DELAY_MS } from "./written-behind-positions.js";

/** The consumer group of the chat projector: the instances of chat share the conversations between them. */
export const PROJECTOR_GROUP = "chat.projections";

/** A running projector. */
export interface RunningProjector {
  projector: ChatProjector;
  /** Stops consuming; resolves when the event in hand is applied. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the chat projector of an instance (ADR 0021): first, in the background, a full rebuild
 * when the stored projection version is older than the code's; then it consumes
 * `caas.chat.events.v1` (from the oldest retained record for a new group; positions drop what
 * was applied; events this instance's commit path applied, `projected`, are skipped). Errors are logged; a failing event is retried by the bus and blocks only its
 * conversation.
 */
export function startProjector(opts: { stores: ProjectorStores; bus: EventBus; logger: Logger; projected?: ProjectedCommits }): RunningProjector {
  const { bus, logger } = opts;
  // The consumer's positions are written behind (ADR 0215): applying is idempotent, so a stored position that lags costs a few events applied again.
  const projector = new ChatProjector(opts.stores, logger, opts.projected, { writeBehindMs: POSITION_WRITE_DELAY_MS });
  const rebuilt = projector.rebuildIfStale().catch((err: unknown) => logger.error({ err }, "chat projections: rebuild failed; it runs again at the next start"));
  const consumer = startChatConsumer({
    bus,
    group: PROJECTOR_GROUP,
    logger,
    unsubscribed: "chat projections are applied by the commit path only",
    async handle({ tenantId, conversationId, payload }, headers) {
      // Envelope cases this version does not know are skipped (DESIGN "Cross-cutting rules").
      if (payload.case !== "event") return;
      await projector.handle({ tenantId, conversationId, seq: Number(payload.value.seq), ...(headers[PROJECTED_HEADER] === "1" ? { projected: true } : {}) });
    },
  });
  let stopping: Promise<void> | undefined;
  return {
    projector,
    stop: () =>
      (stopping ??= (async () => {
        projector.stop();
        await consumer.stop();
        await rebuilt;
        await projector.flush();
      })()),
  };
}
