import { create } from "@bufbuild/protobuf";
import {
  AddMembersResponseSchema,
  JoinConversationResponseSchema,
  LeaveConversationResponseSchema,
  ListMembersResponseSchema,
  RemoveMemberResponseSchema,
  UpdateMemberRoleResponseSchema,
  type AddMembersRequest,
  type AddMembersResponse,
  type JoinConversationResponse,
  type LeaveConversationResponse,
  type ListMembersRequest,
  type ListMembersResponse,
  type RemoveMemberRequest,
  type RemoveMemberResponse,
  type UpdateMemberRoleRequest,
  type UpdateMemberRoleResponse,
} from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { MemberJoinedSchema, MemberLeftSchema, MemberRemovedSchema, MemberRoleChangedSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { MemberRole, MemberState } from "@caas/gen/caas/chat/v1/member_pb.js";
import { FailedPreconditionError, NotFoundError } from "@caas/shared/errors";
import type { Caller, ChatCore, MemberAccess } from "../core.js";
import { payloadHash, systemKey } from "../domain/events.js";
import { checkUserId, checkUuid, invalid, pageSize } from "../domain/input.js";
import { inForce } from "../ports/moderation-store.js";
import { authorizeAction, conversationAttrs, restrictionOf } from "./authorize.js";
import { ModerationOps } from "./moderation-ops.js";
import { memberView, roleEnum, roleOf } from "../domain/views.js";
import type { MemberRecord, RoleKind } from "../ports/member-store.js";
import type { ConversationOps } from "./conversation-ops.js";

/**
 * AddMembers, JoinConversation, RemoveMember, LeaveConversation, UpdateMemberRole, ListMembers. Every membership
 * change is an event of the conversation's log first; the member row (the store of record for
 * authorization) follows it, carrying the event's seq.
 */
export class MemberOps {
  constructor(
    private readonly core: ChatCore,
    private readonly conversations: ConversationOps,
  ) {}

  async add(caller: Caller, req: AddMembersRequest): Promise<AddMembersResponse> {
    const conversationId = checkUuid("conversation_id", req.conversationId);
    if (req.userIds.length === 0 || req.userIds.length > 100) throw invalid("user_ids", "between 1 and 100 users");
    const userIds = req.userIds.map((id, i) => checkUserId(`user_ids[${i}]`, id));
    if (new Set(userIds).size !== userIds.length) throw invalid("user_ids", "must be unique");
    const role = req.role === MemberRole.UNSPECIFIED ? "member" : roleOf(req.role);
    if (role !== "member" && role !== "admin") throw invalid("role", "must be MEMBER or ADMIN");
    const { conversation, member: actor } = await this.core.requireMember(caller, conversationId);
    refuseDirect(conversation.kind);
    await authorizeAction(this.core, caller, "member.add", { ...conversationAttrs(conversation, actor), newRole: role });
    const { stores } = this.core;
    const existing = new Map((await stores.members.getMany(caller.scope, conversationId, userIds)).map((m) => [m.userId, m]));
    const joining = userIds.filter((u) => !existing.get(u)?.active);
    await this.core.requireUsers(caller, joining);
    // Banned users cannot be added back until unbanned (FAILED_PRECONDITION, as the contract says).
    const now = this.core.clock.nowMs();
    for (const u of joining) {
      if (inForce(await stores.moderation.get(caller.scope, conversationId, u, "ban"), now)) throw new FailedPreconditionError(`user ${u} is banned from this conversation`);
    }
    if (joining.length > 0 && (await stores.members.count(caller.scope, conversationId)) + joining.length > this.core.limits.maxMembers) {
      throw new FailedPreconditionError(`a conversation has at most ${this.core.limits.maxMembers} members`);
    }
    const members = [];
    for (const userId of userIds) {
      const prior = existing.get(userId);
      members.push(memberView(prior?.active ? prior : await this.admit(caller, conversationId, userId, role, prior)));
    }
    return create(AddMembersResponseSchema, { members });
  }

  /**
   * JoinConversation: the caller joins an OPEN conversation as MEMBER (idempotent for members).
   * NOT_FOUND unless the conversation is OPEN (or the caller is a member already).
   */
  async join(caller: Caller, conversationId: string): Promise<JoinConversationResponse> {
    const id = checkUuid("conversation_id", conversationId);
    const { stores } = this.core;
    const [conversation, prior] = await Promise.all([stores.conversations.get(caller.scope, id), stores.members.get(caller.scope, id, caller.userId)]);
    if (!conversation || conversation.deletedSeq > 0) throw new NotFoundError("conversation");
    let row = prior?.active ? prior : undefined;
    if (!row) {
      if (conversation.joinPolicy !== "open") throw new NotFoundError("conversation");
      // Banned users cannot rejoin (ABAC engine, ban read from the store of record).
      const banned = await restrictionOf(this.core, caller, id, caller.userId, "ban");
      await authorizeAction(this.core, caller, "member.join", { ...conversationAttrs(conversation, undefined), callerBanned: banned !== undefined });
      if (conversation.archived) throw new FailedPreconditionError("the conversation is archived");
      if ((await stores.members.count(caller.scope, id)) + 1 > this.core.limits.maxMembers) {
        throw new FailedPreconditionError(`a conversation has at most ${this.core.limits.maxMembers} members`);
      }
      row = await this.admit(caller, id, caller.userId, "member", prior);
    }
    const view = await this.conversations.view(caller, id);
    return create(JoinConversationResponseSchema, { conversation: view.conversation, member: memberView(row) });
  }

  /**
   * Appends MemberJoined (one per membership period: the key names the period, 0 or the seq it
   * last ended at; `inviteId` when joining through an invite), then the member row and read
   * position follow it. The caller has checked the permissions and the member limit.
   */
  async admit(caller: Caller, conversationId: string, userId: string, role: RoleKind, prior: MemberRecord | undefined, inviteId = ""): Promise<MemberRecord> {
    const { stores, writer } = this.core;
    const committed = await writer.append(caller.scope, {
      conversationId,
      actorId: caller.userId,
      clientMessageId: systemKey("member joined", userId, prior?.leftSeq ?? 0),
      payloadHash: payloadHash({ userId, role }),
      countable: false,
      payload: (h) => ({
        case: "memberJoined",
        value: create(MemberJoinedSchema, { member: memberView({ conversationId, userId, role, joinedSeq: h.seq, joinTimeMs: h.createTimeMs }), inviteId }),
      }),
    });
    const { seq, createTimeMs, countableSeq } = committed.log;
    const p = committed.event.payload;
    const joinedRole = p.case === "memberJoined" ? (roleOf(p.value.member?.role ?? MemberRole.MEMBER) ?? "member") : role;
    const row = await stores.members.join(caller.scope, { conversationId, userId, role: joinedRole, joinedSeq: seq, joinTimeMs: createTimeMs });
    await stores.readStates.advance(caller.scope, { conversationId, userId, seq, countableSeq, timeMs: createTimeMs });
    return row;
  }

  async remove(caller: Caller, req: RemoveMemberRequest): Promise<RemoveMemberResponse> {
    const conversationId = checkUuid("conversation_id", req.conversationId);
    const userId = checkUserId("user_id", req.userId);
    if (userId === caller.userId) throw invalid("user_id", "use LeaveConversation to leave");
    const { conversation, member: actor } = await this.core.requireMember(caller, conversationId);
    refuseDirect(conversation.kind);
    // Members learn nothing of the target: the right is checked as if it were a member first.
    await authorizeAction(this.core, caller, "member.remove", { ...conversationAttrs(conversation, actor), targetRole: "member" });
    const target = await this.core.stores.members.get(caller.scope, conversationId, userId);
    if (!target?.active) throw new NotFoundError("member");
    await authorizeAction(this.core, caller, "member.remove", { ...conversationAttrs(conversation, actor), targetRole: target.role });
    await this.end(caller, target, "member removed");
    return create(RemoveMemberResponseSchema, {});
  }

  async leave(caller: Caller, conversationId: string): Promise<LeaveConversationResponse> {
    const access = await this.core.requireMember(caller, checkUuid("conversation_id", conversationId));
    refuseDirect(access.conversation.kind);
    if (access.member.role === "owner") await this.refuseLastOwner(caller, access, "leave: transfer ownership first");
    await this.end(caller, access.member, "member left");
    return create(LeaveConversationResponseSchema, {});
  }

  async updateRole(caller: Caller, req: UpdateMemberRoleRequest): Promise<UpdateMemberRoleResponse> {
    const conversationId = checkUuid("conversation_id", req.conversationId);
    const userId = checkUserId("user_id", req.userId);
    const role = roleOf(req.role);
    if (!role) throw invalid("role", "must be OWNER, ADMIN or MEMBER");
    const access = await this.core.requireMember(caller, conversationId);
    refuseDirect(access.conversation.kind);
    const { stores, writer } = this.core;
    const target = userId === caller.userId ? access.member : await stores.members.get(caller.scope, conversationId, userId);
    if (!target?.active) throw new NotFoundError("member");
    await authorizeAction(this.core, caller, "member.role.change", { ...conversationAttrs(access.conversation, access.member), targetRole: target.role, newRole: role });
    if (target.role === role) return create(UpdateMemberRoleResponseSchema, { member: memberView(target) });
    if (target.role === "owner") await this.refuseLastOwner(caller, access, "change the role of the last owner", true);
    const committed = await writer.append(caller.scope, {
      conversationId,
      actorId: caller.userId,
      payloadHash: payloadHash({ userId, role }),
      countable: false,
      payload: () => ({ case: "memberRoleChanged", value: create(MemberRoleChangedSchema, { userId, role: roleEnum(role) }) }),
    });
    await stores.members.setRole(caller.scope, conversationId, userId, role, committed.log.seq);
    const row = (await stores.members.get(caller.scope, conversationId, userId)) ?? target;
    return create(UpdateMemberRoleResponseSchema, { member: memberView(row) });
  }

  async list(caller: Caller, req: ListMembersRequest): Promise<ListMembersResponse> {
    const conversationId = checkUuid("conversation_id", req.conversationId);
    const limit = pageSize(req.pageSize, 100, 500);
    const access = await this.core.requireReader(caller, conversationId);
    if (req.state === MemberState.BANNED) return new ModerationOps(this.core).listBans(caller, access, limit, req.pageToken);
    if (req.state === MemberState.MUTED) throw invalid("state", "UNSPECIFIED lists current members; BANNED lists bans");
    const binding = { tenantId: caller.scope.tenantId, query: `members|${conversationId}|${req.state}` };
    const after = this.core.pageTokens.decode<[number, string]>(binding, req.pageToken);
    const rows = await this.core.stores.members.list(caller.scope, conversationId, {
      ...(after ? { after: { joinedSeq: after[0], userId: after[1] } } : {}),
      limit: limit + 1,
    });
    const shown = rows.slice(0, limit);
    const last = shown[shown.length - 1];
    return create(ListMembersResponseSchema, {
      members: shown.map(memberView),
      nextPageToken: rows.length > limit && last ? this.core.pageTokens.encode(binding, [last.joinedSeq, last.userId]) : "",
    });
  }

  /** Appends the end of a membership (idempotent per membership period), then ends the row. */
  private async end(caller: Caller, target: MemberRecord, kind: "member left" | "member removed"): Promise<void> {
    const { conversationId, userId } = target;
    const committed = await this.core.writer.append(caller.scope, {
      conversationId,
      actorId: caller.userId,
      clientMessageId: systemKey(kind, userId, target.joinedSeq),
      payloadHash: payloadHash({ kind, userId }),
      countable: false,
      payload: () => (kind === "member left" ? { case: "memberLeft", value: create(MemberLeftSchema, { userId }) } : { case: "memberRemoved", value: create(MemberRemovedSchema, { userId }) }),
    });
    await this.core.stores.members.leave(caller.scope, conversationId, userId, committed.log.seq, committed.log.createTimeMs);
  }

  /**
   * FAILED_PRECONDITION when the change would leave the conversation without an owner: always
   * for a role change, and for leaving while other members remain.
   */
  private async refuseLastOwner(caller: Caller, access: MemberAccess, what: string, evenAlone = false): Promise<void> {
    const { members } = this.core.stores;
    const id = access.conversation.id;
    if ((await members.count(caller.scope, id, "owner")) > 1) return;
    if (evenAlone || (await members.count(caller.scope, id)) > 1) throw new FailedPreconditionError(`cannot ${what}: the conversation would have no owner`);
  }
}

/** Membership of DIRECT conversations is fixed. */
function refuseDirect(kind: string): void {
  if (kind === "direct") throw new FailedPreconditionError("the members of a DIRECT conversation cannot change");
}
