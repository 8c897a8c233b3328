import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { DeviceChangeKind } from "@caas/gen/caas/crypto/v1/device_keys_pb.js";
import { DeviceListChangedSchema, UserStateEventEnvelopeSchema } from "@caas/gen/caas/events/v1/user_state_events_pb.js";
import { newId } from "@caas/shared/ids";
import { USER_STATE_EVENTS } from "@caas/shared/eventing/topics";
import type { Clock } from "@caas/shared/clock";
import type { EventBus } from "@caas/shared/eventing/bus";
import type { Logger } from "@caas/shared/logger";
import type { DeviceListNotifier } from "./key-directory-core.js";
import type { MembershipLookup } from "./ports/membership-lookup.js";

/** Conversation ids per DeviceListChanged record: a user in many conversations gets several records. */
export const CONVERSATIONS_PER_RECORD = 1000;

/**
 * Publishes a stored device-list change on the per-user state topic (key `<tenant>/<user>`) with
 * the user's conversations, asked of chat; socket pushes ServerFrame.keys_changed to the local
 * connections of their members. Best effort, after the change is stored: a failure is logged,
 * and clients also read device lists when they start. A user in no conversation still gets one
 * record, for their own other devices.
 */
export function busKeysChangedNotifier(opts: { bus: EventBus; clock: Clock; logger: Logger; memberships: MembershipLookup }): DeviceListNotifier {
  return async (scope, userId, deviceId, kind: DeviceChangeKind, changeSeq) => {
    try {
      const ids = await opts.memberships.conversationsOf(scope, userId);
      const records = [];
      for (let i = 0; i === 0 || i < ids.length; i += CONVERSATIONS_PER_RECORD) {
        records.push({
          key: `${scope.tenantId}/${userId}`,
          headers: {},
          value: create(UserStateEventEnvelopeSchema, {
            eventId: newId(),
            tenantId: scope.tenantId,
            userId,
            createTime: timestampFromMs(opts.clock.nowMs()),
            payload: {
              case: "deviceListChanged",
              value: create(DeviceListChangedSchema, { deviceId, kind, changeSeq: BigInt(changeSeq), conversationIds: ids.slice(i, i + CONVERSATIONS_PER_RECORD) }),
            },
          }),
        });
      }
      await opts.bus.publish(USER_STATE_EVENTS, records);
    } catch (err) {
      opts.logger.warn({ err, tenantId: scope.tenantId, userId, deviceId }, "keys-changed notice not published; clients also read device lists when they start");
    }
  };
}
