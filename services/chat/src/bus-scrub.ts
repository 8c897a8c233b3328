import { CHAT_EVENTS } from "@caas/shared/eventing/topics";
import { isSealed } from "@caas/shared/sealing/box";
import { sealedEnvelopeValue } from "@caas/shared/sealing/chat-events";
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
        // A sealed record (ADR 0120) is judged by its clear header; an open one by its event.
        const p = envelope.payload;
        const header = p.case === "sealedEvent" ? p.value.header : p.case === "event" ? p.value : undefined;
        if (!header || header.redacted) return undefined;
        if (p.case === "event" && header.payload.case !== "messageCreated" && header.payload.case !== "messageEdited") return undefined;
        const scope = scopeFromEvent({ tenantId: envelope.tenantId });
        const conversationId = envelope.conversationId || header.conversationId;
        const [log] = await stores.events.read(scope, conversationId, Number(header.seq) - 1, 1);
        if (!log || log.seq !== Number(header.seq) || !log.redacted) return undefined;
        // The redacted entry as the log now holds it: sealed as stored, or open.
        if (isSealed(log.body)) return sealedEnvelopeValue(envelope.tenantId, log, log.body, envelope.correlationId);
        envelope.payload = { case: "event", value: decodeEvent(log) };
        return envelope;
      });
    },
  };
}
