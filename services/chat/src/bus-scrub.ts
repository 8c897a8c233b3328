import { CHAT_EVENTS } from "@caas/shared/eventing/topics";
import type { EventBus } from "@caas/shared/eventing/bus";
import { scopeFromEvent } from "@caas/shared/tenant-scope";
import { decodeEvent } from "./domain/events.js";
import type { ChatStores } from "./ports/chat-stores.js";

/**
 * The stores with a `scrub` that also reaches the bus's copies, where the bus keeps them locally
 * (the embedded bus file): every MessageCreated or MessageEdited record whose log entry is now
 * redacted is rewritten to carry the redacted event, so a body erased or expired in the log is
 * gone from the bus file too. Kafka keeps its copies until the topic's retention (no rewrite).
 */
export function withBusScrub(stores: ChatStores, bus: EventBus): ChatStores {
  if (!bus.rewriteRecords) return stores;
  const rewrite = bus.rewriteRecords.bind(bus);
  return {
    ...stores,
    async scrub() {
      await stores.scrub();
      await rewrite(CHAT_EVENTS, async (envelope) => {
        if (envelope.payload.case !== "event") return undefined;
        const event = envelope.payload.value;
        if (event.redacted || (event.payload.case !== "messageCreated" && event.payload.case !== "messageEdited")) return undefined;
        const scope = scopeFromEvent({ tenantId: envelope.tenantId });
        const conversationId = envelope.conversationId || event.conversationId;
        const [log] = await stores.events.read(scope, conversationId, Number(event.seq) - 1, 1);
        if (!log || log.seq !== Number(event.seq) || !log.redacted) return undefined;
        envelope.payload = { case: "event", value: decodeEvent(log) };
        return envelope;
      });
    },
  };
}
