import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { OneTimePreKeysLowSchema, UserStateEventEnvelopeSchema } from "@caas/gen/caas/events/v1/user_state_events_pb.js";
import { newId } from "@caas/shared/ids";
import { USER_STATE_EVENTS } from "@caas/shared/eventing/topics";
import type { Clock } from "@caas/shared/clock";
import type { EventBus } from "@caas/shared/eventing/bus";
import type { Logger } from "@caas/shared/logger";
import type { SupplyLowNotifier } from "./key-directory-core.js";

/**
 * Publishes "one-time prekeys low" on the per-user state topic (key `<tenant>/<user>`), which
 * socket relays to every connection of the user as ServerFrame.prekeys_low. Best effort: a
 * failed publish is logged, and clients also poll GetPreKeyCount when they start.
 */
export function busSupplyLowNotifier(opts: { bus: EventBus; clock: Clock; logger: Logger }): SupplyLowNotifier {
  return async (scope, userId, deviceId, remaining, threshold) => {
    const record = {
      key: `${scope.tenantId}/${userId}`,
      headers: {},
      value: create(UserStateEventEnvelopeSchema, {
        eventId: newId(),
        tenantId: scope.tenantId,
        userId,
        createTime: timestampFromMs(opts.clock.nowMs()),
        payload: { case: "oneTimePrekeysLow", value: create(OneTimePreKeysLowSchema, { deviceId, remaining, threshold }) },
      }),
    };
    try {
      await opts.bus.publish(USER_STATE_EVENTS, [record]);
    } catch (err) {
      opts.logger.warn({ err, key: record.key }, "prekeys-low notice not published; clients also check GetPreKeyCount");
    }
  };
}
