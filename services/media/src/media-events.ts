import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { MediaDeletedSchema, MediaEventEnvelopeSchema } from "@caas/gen/caas/events/v1/media_events_pb.js";
import type { EventBus } from "@caas/shared/eventing/bus";
import type { Clock } from "@caas/shared/clock";
import { MEDIA_EVENTS } from "@caas/shared/eventing/topics";
import type { MediaDeps } from "./media-core.js";

/**
 * Publishes media deletions on `caas.media.events.v1` (key: the tenant) for the audit log. The
 * event id is derived from the media id, so a repeated delete publishes the same event and the
 * audit log keeps one record.
 */
export function mediaDeletedPublisher(bus: EventBus, clock: Clock): NonNullable<MediaDeps["publishDeleted"]> {
  return async (scope, d) => {
    const value = create(MediaEventEnvelopeSchema, {
      eventId: `${d.mediaId}:deleted`,
      tenantId: scope.tenantId,
      createTime: timestampFromMs(clock.nowMs()),
      correlationId: d.correlationId,
      actorUserId: d.actorUserId,
      payload: { case: "mediaDeleted", value: create(MediaDeletedSchema, { mediaId: d.mediaId, ownerId: d.ownerId }) },
    });
    await bus.publish(MEDIA_EVENTS, [{ key: scope.tenantId, value, headers: d.correlationId ? { "x-correlation-id": d.correlationId } : {} }]);
  };
}
