import { CHAT_EVENTS, type EventBus, type Logger, type Subscription } from "@caas/shared";
import { ChatProjector, type ProjectorStores } from "./chat-projector.js";

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
 * was applied). Errors are logged; a failing event is retried by the bus and blocks only its
 * conversation.
 */
export function startProjector(opts: { stores: ProjectorStores; bus: EventBus; logger: Logger }): RunningProjector {
  const { bus, logger } = opts;
  const projector = new ChatProjector(opts.stores, logger);
  let stopped = false;
  const rebuilt = projector.rebuildIfStale().catch((err: unknown) => logger.error({ err }, "chat projections: rebuild failed; it runs again at the next start"));
  const subscribed: Promise<Subscription | undefined> = bus
    .subscribe(CHAT_EVENTS, { group: PROJECTOR_GROUP, from: "earliest" }, async (record) => {
      const { tenantId, conversationId, payload } = record.value;
      // Envelope cases this version does not know are skipped (DESIGN "Cross-cutting rules").
      if (payload.case !== "event" || stopped) return;
      await projector.handle({ tenantId, conversationId, seq: Number(payload.value.seq) });
    })
    .catch((err: unknown) => {
      logger.error({ err }, "chat projections: could not subscribe to the chat events; the commit path still applies every change");
      return undefined;
    });
  // A subscription still joining when the instance stops is closed once it is there, without waiting for it.
  let subscription: Subscription | undefined;
  void subscribed.then((s) => {
    subscription = s;
    if (stopped) void s?.close().catch((err: unknown) => logger.warn({ err }, "chat projections: closing the subscription failed"));
  });
  let stopping: Promise<void> | undefined;
  return {
    projector,
    stop: () =>
      (stopping ??= (async () => {
        stopped = true;
        projector.stop();
        await subscription?.close();
        await rebuilt;
      })()),
  };
}
