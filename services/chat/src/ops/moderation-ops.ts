import { create } from "@bufbuild/protobuf";
import { timestampFromMs, type Duration } from "@bufbuild/protobuf/wkt";
import {
  BanMemberResponseSchema,
  FreezeConversationResponseSchema,
  ListMembersResponseSchema,
  MuteMemberResponseSchema,
  UnbanMemberResponseSchema,
  UnfreezeConversationResponseSchema,
  UnmuteMemberResponseSchema,
  type BanMemberRequest,
  type BanMemberResponse,
  type FreezeConversationRequest,
  type FreezeConversationResponse,
  type ListMembersResponse,
  type MuteMemberRequest,
  type MuteMemberResponse,
  type UnbanMemberRequest,
  type UnbanMemberResponse,
  type UnfreezeConversationResponse,
  type UnmuteMemberRequest,
  type UnmuteMemberResponse,
} from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import type { Conversation } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { ConversationFrozenSchema, ConversationUnfrozenSchema, MemberBannedSchema, MemberMutedSchema, MemberUnbannedSchema, MemberUnmutedSchema, type Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import { MemberSchema, MemberState, type Member } from "@caas/gen/caas/chat/v1/member_pb.js";
import { FailedPreconditionError, NotFoundError } from "@caas/shared/errors";
import type { Action } from "@caas/shared/identity/policy";
import type { Caller, ChatCore, ReadAccess } from "../core.js";
import { payloadHash } from "../domain/events.js";
import { checkUserId, checkUuid, invalid } from "../domain/input.js";
import { conversationView, memberView, roleEnum } from "../domain/views.js";
import type { ConversationRecord } from "../ports/conversation-store.js";
import type { MemberRecord } from "../ports/member-store.js";
import type { RestrictionKind, RestrictionRecord } from "../ports/moderation-store.js";
import { authorizeAction, conversationAttrs, restrictionOf } from "./authorize.js";

/** Longest timed mute or ban (the contract's 365 days). */
const MAX_RESTRICTION_MS = 365 * 24 * 3600 * 1000;
const REASON_MAX = 512;

/**
 * MuteMember, UnmuteMember, BanMember, UnbanMember, FreezeConversation, UnfreezeConversation and
 * the BANNED page of ListMembers. Every action is authorized by the ABAC engine on the store of
 * record (owners and admins by rank; tenant moderators anywhere in the tenant), appended to the
 * conversation's log first, and then applied to the moderation rows, the member row (a ban ends
 * the membership) or the conversation row (frozen), each at the event's seq.
 */
export class ModerationOps {
  constructor(private readonly core: ChatCore) {}

  async mute(caller: Caller, req: MuteMemberRequest): Promise<MuteMemberResponse> {
    const input = this.checkRestrictionInput(caller, req);
    const { conversation, target } = await this.authorizeOnTarget(caller, input.conversationId, input.userId, "member.mute");
    if (!target?.active) throw new NotFoundError("member");
    const record = await this.restrict(caller, conversation, input, "mute", target);
    return create(MuteMemberResponseSchema, { member: restrictedView(target, record) });
  }

  async unmute(caller: Caller, req: UnmuteMemberRequest): Promise<UnmuteMemberResponse> {
    const conversationId = checkUuid("conversation_id", req.conversationId);
    const userId = checkUserId("user_id", req.userId);
    const { conversation, target } = await this.authorizeOnTarget(caller, conversationId, userId, "member.mute");
    if (!target?.active) throw new NotFoundError("member");
    await this.lift(caller, conversation, userId, "mute");
    return create(UnmuteMemberResponseSchema, { member: memberView(target) });
  }

  async ban(caller: Caller, req: BanMemberRequest): Promise<BanMemberResponse> {
    const input = this.checkRestrictionInput(caller, req);
    const { conversation, target } = await this.authorizeOnTarget(caller, input.conversationId, input.userId, "member.ban");
    const record = await this.restrict(caller, conversation, input, "ban", target);
    // A banned member is removed at the ban's seq (the socket stops delivering after it).
    if (target?.active) await this.core.stores.members.leave(caller.scope, conversation.id, target.userId, record.seq, record.timeMs);
    const shown = target ?? { conversationId: conversation.id, userId: input.userId, role: "member" as const, joinedSeq: 0, joinTimeMs: record.timeMs };
    return create(BanMemberResponseSchema, { member: restrictedView(shown, record) });
  }

  async unban(caller: Caller, req: UnbanMemberRequest): Promise<UnbanMemberResponse> {
    const conversationId = checkUuid("conversation_id", req.conversationId);
    const userId = checkUserId("user_id", req.userId);
    const { conversation } = await this.authorizeOnTarget(caller, conversationId, userId, "member.ban");
    await this.lift(caller, conversation, userId, "ban");
    return create(UnbanMemberResponseSchema, {});
  }

  async freeze(caller: Caller, req: FreezeConversationRequest): Promise<FreezeConversationResponse> {
    const conversationId = checkUuid("conversation_id", req.conversationId);
    if ([...req.reason].length > REASON_MAX) throw invalid("reason", `at most ${REASON_MAX} characters`);
    const conversation = await this.authorizeOnConversation(caller, conversationId, "conversation.freeze");
    if (!conversation.frozen) {
      await this.commitSettings(caller, conversationId, true, { case: "conversationFrozen", value: create(ConversationFrozenSchema, { reason: req.reason }) });
    }
    return create(FreezeConversationResponseSchema, { conversation: await this.current(caller, conversationId) });
  }

  async unfreeze(caller: Caller, conversationId: string): Promise<UnfreezeConversationResponse> {
    const id = checkUuid("conversation_id", conversationId);
    const conversation = await this.authorizeOnConversation(caller, id, "conversation.freeze");
    if (conversation.frozen) await this.commitSettings(caller, id, false, { case: "conversationUnfrozen", value: create(ConversationUnfrozenSchema) });
    return create(UnfreezeConversationResponseSchema, { conversation: await this.current(caller, id) });
  }

  /**
   * ListMembers with state BANNED: the bans in force, by user id, for owners and admins (and
   * tenant moderators). `access` is the caller's read access, already checked.
   */
  async listBans(caller: Caller, access: ReadAccess, pageSize: number, pageToken: string): Promise<ListMembersResponse> {
    const conversationId = access.conversation.id;
    const attrs = conversationAttrs(access.conversation, access.kind === "member" ? access.member : undefined);
    // A reader of an OPEN conversation sees it, so it is told it lacks the right rather than NOT_FOUND.
    await authorizeAction(this.core, caller, "member.list.bans", attrs.role === undefined && access.kind === "viewer" ? { ...attrs, role: "member" } : attrs);
    const binding = { tenantId: caller.scope.tenantId, query: `bans|${conversationId}` };
    const after = this.core.pageTokens.decode<string>(binding, pageToken);
    if (after !== undefined && typeof after !== "string") throw invalid("page_token", "not valid for this query");
    const now = this.core.clock.nowMs();
    const out: RestrictionRecord[] = [];
    let cursor = after;
    // Expired bans are skipped here (they lapse without an event), so read until the page is full.
    for (;;) {
      const rows = await this.core.stores.moderation.list(caller.scope, conversationId, "ban", { ...(cursor ? { after: { userId: cursor } } : {}), limit: pageSize + 1 });
      for (const r of rows) if (r.expireTimeMs === 0 || r.expireTimeMs > now) out.push(r);
      if (rows.length <= pageSize || out.length > pageSize) break;
      cursor = rows[rows.length - 1]!.userId;
    }
    const shown = out.slice(0, pageSize);
    const last = shown[shown.length - 1];
    return create(ListMembersResponseSchema, {
      members: shown.map((r) => restrictedView({ conversationId, userId: r.userId, role: "member", joinedSeq: 0, joinTimeMs: r.timeMs }, r)),
      nextPageToken: out.length > pageSize && last ? this.core.pageTokens.encode(binding, last.userId) : "",
    });
  }

  private checkRestrictionInput(caller: Caller, req: MuteMemberRequest | BanMemberRequest): RestrictionInput {
    const conversationId = checkUuid("conversation_id", req.conversationId);
    const userId = checkUserId("user_id", req.userId);
    if (userId === caller.userId) throw invalid("user_id", "cannot be the caller");
    if ([...req.reason].length > REASON_MAX) throw invalid("reason", `at most ${REASON_MAX} characters`);
    return { conversationId, userId, durationMs: durationMs(req.duration), reason: req.reason };
  }

  /**
   * The conversation (NOT_FOUND when missing or deleted) after the engine allowed `action` on it
   * with the target member's role: NOT_FOUND unless the caller is a member or a tenant moderator,
   * PERMISSION_DENIED below the rank. DIRECT conversations have no mutes or bans (block instead).
   */
  private async authorizeOnTarget(caller: Caller, conversationId: string, userId: string, action: Action): Promise<{ conversation: ConversationRecord; target: MemberRecord | undefined }> {
    const { stores } = this.core;
    const [conversation, member, target] = await Promise.all([
      stores.conversations.get(caller.scope, conversationId),
      stores.members.get(caller.scope, conversationId, caller.userId),
      stores.members.get(caller.scope, conversationId, userId),
    ]);
    if (!conversation || conversation.deletedSeq > 0) throw new NotFoundError("conversation");
    if (conversation.kind === "direct") {
      if (!member?.active) throw new NotFoundError("conversation");
      throw new FailedPreconditionError("DIRECT conversations have no mutes or bans: block the user instead");
    }
    await authorizeAction(this.core, caller, action, { ...conversationAttrs(conversation, member), ...(target?.active ? { targetRole: target.role } : {}) });
    return { conversation, target };
  }

  private async authorizeOnConversation(caller: Caller, conversationId: string, action: Action): Promise<ConversationRecord> {
    const { stores } = this.core;
    const [conversation, member] = await Promise.all([stores.conversations.get(caller.scope, conversationId), stores.members.get(caller.scope, conversationId, caller.userId)]);
    if (!conversation || conversation.deletedSeq > 0) throw new NotFoundError("conversation");
    await authorizeAction(this.core, caller, action, conversationAttrs(conversation, member));
    return conversation;
  }

  /**
   * Appends MemberMuted / MemberBanned and stores the restriction at its seq. Idempotent for an
   * indefinite restriction already in force (no new event); a timed one is set again (it restarts).
   */
  private async restrict(caller: Caller, conversation: ConversationRecord, input: RestrictionInput, kind: RestrictionKind, target: MemberRecord | undefined): Promise<RestrictionRecord> {
    const existing = await restrictionOf(this.core, caller, conversation.id, input.userId, kind);
    if (existing && existing.expireTimeMs === 0 && input.durationMs === 0 && (kind === "mute" || !target?.active)) return existing;
    const { userId, reason } = input;
    const committed = await this.core.writer.append(caller.scope, {
      conversationId: conversation.id,
      actorId: caller.userId,
      payloadHash: payloadHash({ kind, userId, durationMs: input.durationMs, reason }),
      countable: false,
      payload: (h) => {
        const expire = input.durationMs === 0 ? {} : { expireTime: timestampFromMs(h.createTimeMs + input.durationMs) };
        return kind === "mute"
          ? { case: "memberMuted", value: create(MemberMutedSchema, { userId, reason, ...expire }) }
          : { case: "memberBanned", value: create(MemberBannedSchema, { userId, reason, ...expire }) };
      },
    });
    const { seq, createTimeMs } = committed.log;
    const record: RestrictionRecord = {
      conversationId: conversation.id,
      userId,
      kind,
      present: true,
      expireTimeMs: input.durationMs === 0 ? 0 : createTimeMs + input.durationMs,
      reason,
      actorId: caller.userId,
      seq,
      timeMs: createTimeMs,
    };
    await this.core.stores.moderation.put(caller.scope, record);
    return record;
  }

  /** Appends MemberUnmuted / MemberUnbanned and lifts the restriction; nothing when none is in force. */
  private async lift(caller: Caller, conversation: ConversationRecord, userId: string, kind: RestrictionKind): Promise<void> {
    const existing = await restrictionOf(this.core, caller, conversation.id, userId, kind);
    if (!existing) return;
    const committed = await this.core.writer.append(caller.scope, {
      conversationId: conversation.id,
      actorId: caller.userId,
      payloadHash: payloadHash({ lift: kind, userId }),
      countable: false,
      payload: () => (kind === "mute" ? { case: "memberUnmuted", value: create(MemberUnmutedSchema, { userId }) } : { case: "memberUnbanned", value: create(MemberUnbannedSchema, { userId }) }),
    });
    const { seq, createTimeMs } = committed.log;
    await this.core.stores.moderation.put(caller.scope, { ...existing, present: false, expireTimeMs: 0, actorId: caller.userId, seq, timeMs: createTimeMs });
  }

  private async commitSettings(caller: Caller, conversationId: string, frozen: boolean, payload: Event["payload"]): Promise<void> {
    const committed = await this.core.writer.append(caller.scope, {
      conversationId,
      actorId: caller.userId,
      payloadHash: payloadHash({ frozen }),
      countable: false,
      payload: () => payload,
    });
    await this.core.stores.conversations.applySettings(caller.scope, conversationId, { seq: committed.log.seq, timeMs: committed.log.createTimeMs, frozen });
  }

  /** The conversation as it stands (a tenant moderator need not be a member to see the answer). */
  private async current(caller: Caller, conversationId: string): Promise<Conversation> {
    const { stores } = this.core;
    const [record, count, head] = await Promise.all([
      stores.conversations.get(caller.scope, conversationId),
      stores.members.count(caller.scope, conversationId),
      stores.events.head(caller.scope, conversationId),
    ]);
    if (!record) throw new NotFoundError("conversation");
    return conversationView(record, count, head);
  }
}

interface RestrictionInput {
  conversationId: string;
  userId: string;
  /** 0: until lifted. */
  durationMs: number;
  reason: string;
}

/** A request's duration in ms (0 when unset), at most 365 days. */
function durationMs(d: Duration | undefined): number {
  if (!d) return 0;
  const ms = Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6);
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_RESTRICTION_MS || d.nanos < 0) throw invalid("duration", "between 0 and 365 days");
  return ms;
}

/** A membership shown with its mute or ban (state MUTED / BANNED and when it ends). */
function restrictedView(m: Pick<MemberRecord, "conversationId" | "userId" | "role" | "joinedSeq" | "joinTimeMs">, r: RestrictionRecord): Member {
  return create(MemberSchema, {
    ...memberView(m),
    role: roleEnum(m.role),
    state: r.kind === "mute" ? MemberState.MUTED : MemberState.BANNED,
    ...(r.expireTimeMs === 0 ? {} : { stateExpireTime: timestampFromMs(r.expireTimeMs) }),
  });
}
