import type { ChatEventEnvelope } from "@caas/gen/caas/events/v1/chat_events_pb.js";
import { CHAT_EVENTS } from "@caas/shared/eventing/topics";
import type { EventBus, Subscription } from "@caas/shared/eventing/bus";
import type { Logger } from "@caas/shared/logger";

/** A consumer of chat's own events started by `startChatConsumer`. */
export interface RunningChatConsumer {
  /** Stops consuming; resolves when the record in hand is done. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Consumes `caas.chat.events.v1` in consumer group `group` (chat's instances share it), from the
 * oldest retained record for a new group. `handle` sees each envelope until `stop()`; a throw is
 * retried by the bus. A subscription that fails is logged (`unsubscribed` says what that means)
 * and the instance runs on without it; one still joining when the instance stops is closed once
 * it is there, without waiting for it.
 */
export function startChatConsumer(opts: {
  bus: EventBus;
  group: string;
  logger: Logger;
  /** What is lost without the subscription, for the error line. */
  unsubscribed: string;
  handle(envelope: ChatEventEnvelope, headers: Record<string, string>): Promise<void>;
}): RunningChatConsumer {
  const { bus, group, logger } = opts;
  let stopped = false;
  const subscribed: Promise<Subscription | undefined> = bus
    .subscribe(CHAT_EVENTS, { group, from: "earliest" }, async (record) => {
      if (!stopped) await opts.handle(record.value, record.headers);
    })
    .catch((err: unknown) => {
      logger.error({ err, group }, `could not subscribe to the chat events: ${opts.unsubscribed}`);
      return undefined;
    });
  let subscription: Subscription | undefined;
  void subscribed.then((s) => {
    subscription = s;
    if (stopped) void s?.close().catch((err: unknown) => logger.warn({ err, group }, "closing a chat events subscription failed"));
  });
  let stopping: Promise<void> | undefined;
  return {
    stop: () =>
      (stopping ??= (async () => {
        stopped = true;
        await subscription?.close();
      })()),
  };
}
