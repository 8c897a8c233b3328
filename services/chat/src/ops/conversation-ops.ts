import { create } from "@bufbuild/protobuf";
import { ConversationType, ConversationViewSchema, JoinPolicy, type ConversationView } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { ConversationCreatedSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { MemberRole } from "@caas/gen/caas/chat/v1/member_pb.js";
import type { CreateConversationRequest, CreateConversationResponse, GetConversationResponse, ListConversationsRequest, ListConversationsResponse } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { CreateConversationResponseSchema, GetConversationResponseSchema, ListConversationsResponseSchema } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { newId } from "@caas/shared/ids";
import { PermissionDeniedError } from "@caas/shared/errors";
import { projectedHead, type Caller, type ChatCore } from "../core.js";
import { systemKey } from "../domain/events.js";
import { checkCustom, checkUserId, checkUuid, invalid, pageSize } from "../domain/input.js";
import { directKey, directPair } from "../domain/rules.js";
import { conversationView, kindOf, memberView, policyOf, readStateView } from "../domain/views.js";
import { mentionCount, mentionCounts } from "./mention-ops.js";
import type { ActivityKey, ConversationRecord, JoinPolicyKind } from "../ports/conversation-store.js";
import type { NewMember, RoleKind } from "../ports/member-store.js";

/** CreateConversation, GetConversation, ListConversations. */
export class ConversationOps {
  constructor(private readonly core: ChatCore) {}

  async create(caller: Caller, req: CreateConversationRequest): Promise<CreateConversationResponse> {
    const kind = kindOf(req.type);
    if (!kind) throw invalid("type", "must be DIRECT, GROUP or CHANNEL");
    if (req.memberIds.length > 100) throw invalid("member_ids", "at most 100 members");
    const others = [...new Set(req.memberIds.map((id, i) => checkUserId(`member_ids[${i}]`, id)))].filter((id) => id !== caller.userId);
    checkCustom("custom", req.custom, this.core.limits.maxCustomBytes);
    let joinPolicy: JoinPolicyKind;
    if (kind === "direct") {
      if (others.length !== 1) throw invalid("member_ids", "a DIRECT conversation takes exactly one other user");
      if (req.title !== "" || req.avatarUrl !== "") throw invalid("title", "DIRECT conversations have no title or avatar");
      if (req.joinPolicy !== JoinPolicy.UNSPECIFIED && policyOf(req.joinPolicy) !== "closed") throw invalid("join_policy", "DIRECT conversations are CLOSED");
      joinPolicy = "closed";
    } else {
      joinPolicy = policyOf(req.joinPolicy) ?? "invite_only";
    }
    await this.core.requireUsers(caller, others);
    // A block either way keeps both users from opening a DIRECT conversation (store of record, uncached).
    if (kind === "direct" && (await this.core.stores.blocks.between(caller.scope, caller.userId, others[0]!))) {
      throw new PermissionDeniedError("one of you blocked the other: no DIRECT conversation");
    }
    const now = this.core.clock.nowMs();
    const { created, conversation } = await this.core.stores.conversations.create(caller.scope, {
      id: newId(),
      kind,
      title: req.title,
      avatarUrl: req.avatarUrl,
      ...(req.custom === undefined ? {} : { custom: req.custom }),
      createdBy: caller.userId,
      createTimeMs: now,
      joinPolicy,
      ...(req.endToEndEncrypted ? { e2ee: true } : {}),
      ...(kind === "direct" ? { directKey: directKey(caller.userId, others[0]!, req.endToEndEncrypted) } : {}),
    });
    const members: { userId: string; role: RoleKind }[] =
      conversation.kind === "direct"
        ? directPair(conversation.directKey!).map((userId) => ({ userId, role: "owner" as const }))
        : [{ userId: caller.userId, role: "owner" }, ...others.map((userId) => ({ userId, role: "member" as const }))];
    await this.complete(caller, conversation, members, created);
    const view = await this.view(caller, conversation.id);
    return create(CreateConversationResponseSchema, { conversation: view.conversation, created });
  }

  /**
   * Finishes a creation: ConversationCreated at seq 1 (idempotent per creator), then the member
   * rows and read positions. Every step is idempotent, so whoever meets an unfinished
   * conversation (a crash mid-way, the loser of a concurrent DIRECT creation) completes it.
   */
  private async complete(caller: Caller, c: ConversationRecord, members: { userId: string; role: RoleKind }[], created: boolean): Promise<void> {
    const { stores, writer } = this.core;
    if (!created) {
      const rows = await stores.members.getMany(
        caller.scope,
        c.id,
        members.map((m) => m.userId),
      );
      if (rows.length === members.length && rows.every((r) => r.active)) return;
    }
    const committed = await writer.append(caller.scope, {
      conversationId: c.id,
      actorId: c.createdBy,
      clientMessageId: systemKey("conversation created", c.id),
      payloadHash: "conversation created",
      countable: false,
      payload: (h) => ({
        case: "conversationCreated",
        value: create(ConversationCreatedSchema, {
          conversation: conversationView({ ...c, lastSeq: h.seq, activityMs: h.createTimeMs, changeMs: h.createTimeMs }, members.length),
          members: members.map((m) => memberView({ conversationId: c.id, userId: m.userId, role: m.role, joinedSeq: h.seq, joinTimeMs: h.createTimeMs })),
        }),
      }),
    });
    const { seq, createTimeMs, countableSeq } = committed.log;
    const payload = committed.event.payload;
    // A duplicate carries the members the first call committed: those are the ones to store.
    const committedMembers: NewMember[] =
      payload.case === "conversationCreated"
        ? payload.value.members.map((m) => ({
            conversationId: c.id,
            userId: m.userId,
            role: m.role === MemberRole.OWNER ? "owner" : m.role === MemberRole.ADMIN ? "admin" : "member",
            joinedSeq: seq,
            joinTimeMs: createTimeMs,
          }))
        : [];
    for (const m of committedMembers) {
      await stores.members.join(caller.scope, m);
      await stores.readStates.advance(caller.scope, { conversationId: c.id, userId: m.userId, seq, countableSeq, timeMs: createTimeMs });
    }
  }

  async get(caller: Caller, conversationId: string): Promise<GetConversationResponse> {
    const view = await this.view(caller, checkUuid("conversation_id", conversationId));
    return create(GetConversationResponseSchema, {
      conversation: view.conversation,
      ...(view.membership ? { membership: view.membership, readState: view.readState } : {}),
    });
  }

  /** A conversation as the caller sees it, with the log head read from the log itself. */
  async view(caller: Caller, conversationId: string): Promise<ConversationView> {
    const { stores } = this.core;
    const access = await this.core.requireReader(caller, conversationId);
    const [head, count] = await Promise.all([stores.events.head(caller.scope, conversationId, projectedHead(access.conversation)), stores.members.count(caller.scope, conversationId)]);
    const conversation = conversationView(access.conversation, count, head);
    if (access.kind !== "member") return create(ConversationViewSchema, { conversation });
    const rs = await stores.readStates.get(caller.scope, conversationId, caller.userId);
    return create(ConversationViewSchema, {
      conversation,
      membership: memberView(access.member),
      readState: readStateView(
        conversationId,
        caller.userId,
        rs,
        Math.max(head.countableSeq, access.conversation.countableSeq),
        await mentionCount(this.core, caller.scope, caller.userId, conversationId, rs),
      ),
    });
  }

  async list(caller: Caller, req: ListConversationsRequest): Promise<ListConversationsResponse> {
    const { stores, pageTokens } = this.core;
    const limit = pageSize(req.pageSize, 50, 200);
    const kind = req.type === ConversationType.UNSPECIFIED ? undefined : kindOf(req.type);
    const binding = { tenantId: caller.scope.tenantId, query: `conversations|${caller.userId}|${kind ?? "*"}|${req.includeArchived}` };
    const after = pageTokens.decode<[number, string]>(binding, req.pageToken);
    const memberships = await stores.members.ofUser(caller.scope, caller.userId);
    const byId = new Map(memberships.map((m) => [m.conversationId, m]));
    const page = await stores.conversations.listByActivity(caller.scope, {
      ids: [...byId.keys()],
      ...(after ? { after: { activityMs: after[0], id: after[1] } satisfies ActivityKey } : {}),
      ...(kind ? { kind } : {}),
      includeArchived: req.includeArchived,
      limit: limit + 1,
    });
    const shown = page.slice(0, limit);
    const [states, counts] = await Promise.all([
      stores.readStates.ofUser(
        caller.scope,
        caller.userId,
        shown.map((c) => c.id),
      ),
      stores.members.countMany(
        caller.scope,
        shown.map((c) => c.id),
      ),
    ]);
    const stateOf = new Map(states.map((s) => [s.conversationId, s]));
    const mentions = await mentionCounts(
      this.core,
      caller.scope,
      caller.userId,
      shown.map((c) => c.id),
      stateOf,
    );
    const conversations = shown.map((c) =>
      create(ConversationViewSchema, {
        conversation: conversationView(c, counts.get(c.id) ?? 0),
        membership: memberView(byId.get(c.id)!),
        readState: readStateView(c.id, caller.userId, stateOf.get(c.id), c.countableSeq, mentions.get(c.id) ?? 0),
      }),
    );
    const last = shown[shown.length - 1];
    return create(ListConversationsResponseSchema, {
      conversations,
      nextPageToken: page.length > limit && last ? pageTokens.encode(binding, [last.activityMs, last.id]) : "",
    });
  }
}
