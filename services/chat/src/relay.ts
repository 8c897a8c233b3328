import { create, fromBinary } from "@bufbuild/protobuf";
import { EventSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { ChatEventEnvelopeSchema } from "@caas/gen/caas/events/v1/chat_events_pb.js";
import { CHAT_EVENTS } from "@caas/shared/eventing/topics";
import { CORRELATION_HEADER } from "@caas/shared/interceptors/correlation";
import type { BusRecord } from "@caas/shared/eventing/bus";
import type { LogEvent } from "@caas/shared/eventing/log";
import { isSealed } from "@caas/shared/sealing/box";
import { sealedEnvelopeValue } from "@caas/shared/sealing/chat-events";
import type { ProjectedCommits } from "./projections/projected-commits.js";

/**
 * Header of a chat event whose committing instance had applied it to every projection before
 * publishing it: the projector of whichever instance consumes it need not apply it again.
 */
export const PROJECTED_HEADER = "x-caas-projected";

/** How many commits' correlation ids an instance keeps for its relay (the newest win). */
const REMEMBERED = 10_000;

/**
 * The correlation id of each commit this instance made, kept until its relay publishes it. The
 * log does not store correlation ids, so an event published by another instance's sweeper (after
 * a crash) goes out without one.
 */
export class CommitCorrelations {
  private readonly ids = new Map<string, string>();

  remember(event: LogEvent, correlationId: string | undefined): void {
    if (!correlationId) return;
    this.ids.set(keyOf(event), correlationId);
    if (this.ids.size > REMEMBERED) this.ids.delete(this.ids.keys().next().value!);
  }

  /** The id remembered for an event, forgotten once taken. */
  take(event: LogEvent): string {
    const key = keyOf(event);
    const id = this.ids.get(key) ?? "";
    this.ids.delete(key);
    return id;
  }
}

function keyOf(e: LogEvent): string {
  return `${e.tenantId}|${e.conversationId}|${e.seq}`;
}

/**
 * The bus record of a committed event on `caas.chat.events.v1`: key = conversation id, the
 * envelope with tenant, conversation and correlation id, the correlation id also as a header.
 * A body sealed at rest goes out as stored (`sealed_event`, ADR 0120): the relay never opens it.
 * An event this instance's commit path projected (`projected`) carries PROJECTED_HEADER and is
 * taken out of the set: the consumer that gets it, on this instance or another, skips it by the
 * header (ADR 0166).
 */
export function chatEventRecord(correlations: CommitCorrelations, projected?: ProjectedCommits): (event: LogEvent) => BusRecord<typeof CHAT_EVENTS.schema> {
  return (event) => {
    const correlationId = correlations.take(event);
    const headers: Record<string, string> = {};
    if (correlationId) headers[CORRELATION_HEADER] = correlationId;
    if (projected?.take(event.tenantId, event.conversationId, event.seq)) headers[PROJECTED_HEADER] = "1";
    if (isSealed(event.body)) return { key: event.conversationId, headers, value: sealedEnvelopeValue(event.tenantId, event, event.body, correlationId) };
    return {
      key: event.conversationId,
      headers,
      value: create(ChatEventEnvelopeSchema, {
        tenantId: event.tenantId,
        conversationId: event.conversationId,
        correlationId,
        payload: { case: "event", value: fromBinary(EventSchema, event.body) },
      }),
    };
  };
}
