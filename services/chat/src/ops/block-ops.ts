import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { BlockedUserSchema } from "@caas/gen/caas/chat/v1/block_pb.js";
import {
  BlockUserResponseSchema,
  ListBlockedUsersResponseSchema,
  UnblockUserResponseSchema,
  type BlockUserRequest,
  type BlockUserResponse,
  type ListBlockedUsersRequest,
  type ListBlockedUsersResponse,
  type UnblockUserRequest,
  type UnblockUserResponse,
} from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { UserBlockedSchema, UserStateEventEnvelopeSchema, UserUnblockedSchema, type UserStateEventEnvelope } from "@caas/gen/caas/events/v1/user_state_events_pb.js";
import { CORRELATION_HEADER } from "@caas/shared/interceptors/correlation";
import { currentScope } from "@caas/shared/context";
import { newId } from "@caas/shared/ids";
import type { Caller, ChatCore } from "../core.js";
import { checkUserId, invalid, pageSize } from "../domain/input.js";
import type { UserStatePublisher, UserStateRecord } from "../user-state.js";

/**
 * BlockUser, UnblockUser, ListBlockedUsers: per-user blocks within the tenant. A block keeps the
 * two users from creating or writing to a DIRECT conversation with each other, either way
 * (enforced by the ABAC engine on the write path, read uncached). Each change is published on
 * `caas.chat.userstate.v1` (UserBlocked / UserUnblocked) for the user's devices, best effort.
 */
export class BlockOps {
  constructor(
    private readonly core: ChatCore,
    private readonly publish?: UserStatePublisher,
  ) {}

  async block(caller: Caller, req: BlockUserRequest): Promise<BlockUserResponse> {
    const userId = checkUserId("user_id", req.userId);
    if (userId === caller.userId) throw invalid("user_id", "cannot block yourself");
    const now = this.core.clock.nowMs();
    const record = await this.core.stores.blocks.block(caller.scope, { blockerId: caller.userId, blockedId: userId, createTimeMs: now });
    // Only a new block is announced (a repeated call changes nothing).
    if (record.createTimeMs === now) await this.announce(caller, "blocked", userId, now);
    return create(BlockUserResponseSchema, {});
  }

  async unblock(caller: Caller, req: UnblockUserRequest): Promise<UnblockUserResponse> {
    const userId = checkUserId("user_id", req.userId);
    if (await this.core.stores.blocks.unblock(caller.scope, caller.userId, userId)) await this.announce(caller, "unblocked", userId, this.core.clock.nowMs());
    return create(UnblockUserResponseSchema, {});
  }

  async list(caller: Caller, req: ListBlockedUsersRequest): Promise<ListBlockedUsersResponse> {
    const limit = pageSize(req.pageSize, 50, 200);
    const binding = { tenantId: caller.scope.tenantId, query: `blocks|${caller.userId}` };
    const after = this.core.pageTokens.decode<[number, string]>(binding, req.pageToken);
    if (after !== undefined && (!Array.isArray(after) || typeof after[0] !== "number" || typeof after[1] !== "string")) throw invalid("page_token", "not valid for this query");
    const rows = await this.core.stores.blocks.list(caller.scope, caller.userId, { ...(after ? { after: { createTimeMs: after[0], blockedId: after[1] } } : {}), limit: limit + 1 });
    const shown = rows.slice(0, limit);
    const last = shown[shown.length - 1];
    return create(ListBlockedUsersResponseSchema, {
      blockedUsers: shown.map((b) => create(BlockedUserSchema, { userId: b.blockedId, createTime: timestampFromMs(b.createTimeMs) })),
      nextPageToken: rows.length > limit && last ? this.core.pageTokens.encode(binding, [last.createTimeMs, last.blockedId]) : "",
    });
  }

  /** Publishes the change for the blocker's devices; a failure is the publisher's to log (best effort). */
  private async announce(caller: Caller, what: "blocked" | "unblocked", userId: string, timeMs: number): Promise<void> {
    if (!this.publish) return;
    await this.publish(blockRecord(caller.scope.tenantId, caller.userId, what, userId, timeMs, currentScope()?.correlationId));
  }
}

/** The `caas.chat.userstate.v1` record of a block change: key `<tenant>/<blocker>`. */
export function blockRecord(tenantId: string, userId: string, what: "blocked" | "unblocked", other: string, timeMs: number, correlationId: string | undefined): UserStateRecord {
  const payload: UserStateEventEnvelope["payload"] =
    what === "blocked" ? { case: "userBlocked", value: create(UserBlockedSchema, { blockedUserId: other }) } : { case: "userUnblocked", value: create(UserUnblockedSchema, { blockedUserId: other }) };
  return {
    key: `${tenantId}/${userId}`,
    headers: correlationId ? { [CORRELATION_HEADER]: correlationId } : {},
    value: create(UserStateEventEnvelopeSchema, { eventId: newId(), tenantId, userId, createTime: timestampFromMs(timeMs), correlationId: correlationId ?? "", payload }),
  };
}
