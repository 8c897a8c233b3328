import { create } from "@bufbuild/protobuf";
import { ReceiptSchema } from "@caas/gen/caas/chat/v1/read_state_pb.js";
import { BlockChangedSchema, KeysChangedSchema, PreKeysLowSchema } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import type { UserStateEventEnvelope } from "@caas/gen/caas/events/v1/user_state_events_pb.js";
import { USER_STATE_EVENTS } from "@caas/shared/eventing/topics";
import type { EventBus, Subscription } from "@caas/shared/eventing/bus";
import type { Hub } from "./hub.js";

/** Markers remembered per (tenant, user, conversation) to drop redelivered or older records. */
const MAX_TRACKED_MARKERS = 100_000;

/**
 * Live user state from `caas.chat.userstate.v1`: a moved read or delivery marker goes as
 * `read_state` to every local connection of its user (their other devices) and, where the
 * conversation shares receipts (DIRECT, GROUP of at most 100 members), as `receipt` to the local
 * connections of the other members. Records are at least once and markers only move forward, so
 * a record that advances neither marker beyond what this instance last pushed is dropped. A block
 * or unblock goes as `block_changed` to every local connection of its user, in record order
 * (a redelivered one repeats a state the client already applied). A key directory notice that a
 * device runs low on one-time prekeys goes as `prekeys_low` to every local connection of the
 * device's owner. A device-list change goes as `keys_changed` once to every local connection of
 * the owner and of the members of the conversations the record names. Unknown cases are skipped.
 */
export class UserStateRelay {
  private readonly seen = new Map<string, { read: bigint; delivered: bigint }>();

  constructor(private readonly hub: Hub) {}

  /** Applies one user-state record. */
  apply(env: UserStateEventEnvelope): void {
    const p = env.payload;
    if (p.case === "userBlocked" || p.case === "userUnblocked") {
      if (env.tenantId === "" || env.userId === "" || p.value.blockedUserId === "") return;
      const change = create(BlockChangedSchema, {
        userId: p.value.blockedUserId,
        blocked: p.case === "userBlocked",
        ...(env.createTime ? { updateTime: env.createTime } : {}),
      });
      for (const s of this.hub.sessionsOf(env.tenantId, env.userId)) s.deliverBlockChanged?.(change);
      return;
    }
    if (p.case === "oneTimePrekeysLow") {
      if (env.tenantId === "" || env.userId === "") return;
      const notice = create(PreKeysLowSchema, { deviceId: p.value.deviceId, remaining: p.value.remaining, threshold: p.value.threshold });
      for (const s of this.hub.sessionsOf(env.tenantId, env.userId)) s.deliverPreKeysLow?.(notice);
      return;
    }
    if (p.case === "deviceListChanged") {
      if (env.tenantId === "" || env.userId === "") return;
      const notice = create(KeysChangedSchema, { userId: env.userId, deviceId: p.value.deviceId, kind: p.value.kind, changeSeq: p.value.changeSeq });
      const recipients = new Set(this.hub.sessionsOf(env.tenantId, env.userId));
      for (const c of p.value.conversationIds) for (const r of this.hub.localMembers(env.tenantId, c)) recipients.add(r);
      for (const r of recipients) r.deliverKeysChanged?.(notice);
      return;
    }
    if (p.case !== "readMarkerMoved" && p.case !== "deliveryMarkerMoved") return;
    const state = p.value.readState;
    if (!state || state.conversationId === "" || env.tenantId === "" || env.userId === "") return;
    const userId = env.userId;
    if (!this.advances(`${env.tenantId}\u0000${userId}\u0000${state.conversationId}`, state.lastReadSeq, state.lastDeliveredSeq)) return;
    const own = state.userId === userId ? state : { ...state, userId };
    for (const s of this.hub.sessionsOf(env.tenantId, userId)) s.deliverReadState?.(own);
    if (!this.hub.receiptsShared(env.tenantId, state.conversationId)) return;
    const receipt = create(ReceiptSchema, {
      conversationId: state.conversationId,
      userId,
      lastReadSeq: state.lastReadSeq,
      lastDeliveredSeq: state.lastDeliveredSeq,
      updateTime: state.updateTime,
    });
    for (const r of this.hub.localMembers(env.tenantId, state.conversationId)) if (r.userId !== userId) r.deliverReceipt?.(receipt);
  }

  private advances(k: string, read: bigint, delivered: bigint): boolean {
    const last = this.seen.get(k);
    if (last && read <= last.read && delivered <= last.delivered) return false;
    this.seen.delete(k);
    this.seen.set(k, { read: last && last.read > read ? last.read : read, delivered: last && last.delivered > delivered ? last.delivered : delivered });
    if (this.seen.size > MAX_TRACKED_MARKERS) this.seen.delete(this.seen.keys().next().value!);
    return true;
  }
}

/**
 * Feeds `relay` from the user-state topic in a consumer group of this instance's own (every
 * socket instance must see every record), from the newest record: connections opened later get
 * markers from Resume / GetChanges.
 */
export function startUserStateFeed(bus: EventBus, group: string, relay: UserStateRelay): Promise<Subscription> {
  return bus.subscribe(USER_STATE_EVENTS, { group, from: "latest" }, async (record) => relay.apply(record.value));
}
