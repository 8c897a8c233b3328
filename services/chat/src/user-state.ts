import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ReadState } from "@caas/gen/caas/chat/v1/read_state_pb.js";
import { DeliveryMarkerMovedSchema, ReadMarkerMovedSchema, UserStateEventEnvelopeSchema, type UserStateEventEnvelope } from "@caas/gen/caas/events/v1/user_state_events_pb.js";
import { CORRELATION_HEADER } from "@caas/shared/interceptors/correlation";
import { newId } from "@caas/shared/ids";
import type { BusRecord } from "@caas/shared/eventing/bus";
import type { USER_STATE_EVENTS } from "@caas/shared/eventing/topics";

/** A record of `caas.chat.userstate.v1`. */
export type UserStateRecord = BusRecord<typeof USER_STATE_EVENTS.schema>;

/**
 * Publishes per-user state records (the composition root binds it to the service's EventBus and
 * USER_STATE_EVENTS). Live push is best effort: the markers are also in GetChanges.
 */
export type UserStatePublisher = (record: UserStateRecord) => Promise<void>;

/**
 * The record of a marker that moved: key `<tenant>/<user>`, the envelope of
 * proto/caas/events/v1/user_state_events.proto with the resulting ReadState, the correlation id
 * in the envelope and as a header.
 */
export function markerMovedRecord(tenantId: string, userId: string, marker: "read" | "delivered", readState: ReadState, timeMs: number, correlationId: string | undefined): UserStateRecord {
  const payload: UserStateEventEnvelope["payload"] =
    marker === "read" ? { case: "readMarkerMoved", value: create(ReadMarkerMovedSchema, { readState }) } : { case: "deliveryMarkerMoved", value: create(DeliveryMarkerMovedSchema, { readState }) };
  return {
    key: `${tenantId}/${userId}`,
    headers: correlationId ? { [CORRELATION_HEADER]: correlationId } : {},
    value: create(UserStateEventEnvelopeSchema, {
      eventId: newId(),
      tenantId,
      userId,
      createTime: timestampFromMs(timeMs),
      correlationId: correlationId ?? "",
      payload,
    }),
  };
}
