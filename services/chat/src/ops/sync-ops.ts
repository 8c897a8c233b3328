import { create } from "@bufbuild/protobuf";
import {
  GetUnreadCountsResponseSchema,
  SyncResponseSchema,
  type GetUnreadCountsRequest,
  type GetUnreadCountsResponse,
  type SyncRequest,
  type SyncResponse,
} from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import type { ReadState } from "@caas/gen/caas/chat/v1/read_state_pb.js";
import { NotFoundError } from "@caas/shared/errors";
import { projectedHead, type Caller, type ChatCore } from "../core.js";
import { decodeEvent } from "../domain/events.js";
import { checkUuid, invalid } from "../domain/input.js";
import { readStateView, unreadCount } from "../domain/views.js";
import { mentionCounts } from "./mention-ops.js";

/** Most conversations GetUnreadCounts lists when none are named. */
const UNREAD_LIST_MAX = 200;

/** Sync, GetUnreadCounts (MarkRead lives with the other markers in receipt-ops.ts). */
export class SyncOps {
  constructor(private readonly core: ChatCore) {}

  /**
   * Events after a seq, as stored. Members and viewers of OPEN conversations read up to the head,
   * former members up to their departure.
   */
  async sync(caller: Caller, req: SyncRequest): Promise<SyncResponse> {
    const conversationId = checkUuid("conversation_id", req.conversationId);
    if (req.limit < 0 || req.limit > 500) throw invalid("limit", "must be between 0 and 500");
    const limit = req.limit === 0 ? 100 : req.limit;
    const access = await this.core.requireReader(caller, conversationId, true);
    const { events } = this.core.stores;
    const [head, [first]] = await Promise.all([events.head(caller.scope, conversationId, projectedHead(access.conversation)), events.read(caller.scope, conversationId, 0, 1)]);
    const visibleHead = access.kind === "former" ? Math.min(access.member.leftSeq, head.seq) : head.seq;
    const firstAvailable = first?.seq ?? 0;
    const after = Math.max(req.afterSeq > BigInt(visibleHead) ? visibleHead : Number(req.afterSeq), firstAvailable - 1, 0);
    const count = Math.min(limit, visibleHead - after);
    const batch = count > 0 ? await events.read(caller.scope, conversationId, after, count) : [];
    const last = batch[batch.length - 1];
    return create(SyncResponseSchema, {
      events: batch.map(decodeEvent),
      hasMore: (last?.seq ?? after) < visibleHead,
      firstAvailableSeq: BigInt(firstAvailable),
      headSeq: BigInt(visibleHead),
    });
  }

  /**
   * Unread counts from the conversation projection's countable counter and the caller's read
   * positions; totals cover every current conversation of the caller except archived and deleted ones.
   */
  async unreadCounts(caller: Caller, req: GetUnreadCountsRequest): Promise<GetUnreadCountsResponse> {
    if (req.conversationIds.length > 100) throw invalid("conversation_ids", "at most 100");
    const requested = req.conversationIds.map((id, i) => checkUuid(`conversation_ids[${i}]`, id));
    if (new Set(requested).size !== requested.length) throw invalid("conversation_ids", "must be unique");
    const { stores } = this.core;
    const memberships = await stores.members.ofUser(caller.scope, caller.userId);
    const ids = memberships.map((m) => m.conversationId);
    const conversations = [];
    for (let i = 0; i < ids.length; i += 1000) {
      // Deleted conversations are gone for everyone.
      conversations.push(...(await stores.conversations.getMany(caller.scope, ids.slice(i, i + 1000))).filter((c) => c.deletedSeq === 0));
    }
    const states = new Map((await stores.readStates.ofUser(caller.scope, caller.userId, ids)).map((s) => [s.conversationId, s]));
    const byId = new Map(conversations.map((c) => [c.id, c]));
    const mentions = await mentionCounts(
      this.core,
      caller.scope,
      caller.userId,
      conversations.map((c) => c.id),
      states,
    );
    let totalUnread = 0;
    let totalMentions = 0;
    let unreadConversations = 0;
    for (const c of conversations) {
      if (c.archived) continue;
      const n = unreadCount(states.get(c.id), c.countableSeq);
      totalUnread += n;
      totalMentions += mentions.get(c.id) ?? 0;
      if (n > 0) unreadConversations++;
    }
    const view = (id: string): ReadState => readStateView(id, caller.userId, states.get(id), byId.get(id)!.countableSeq, mentions.get(id) ?? 0);
    let listed: ReadState[];
    let truncated = false;
    if (requested.length > 0) {
      const missing = requested.find((id) => !byId.has(id));
      if (missing) throw new NotFoundError("conversation");
      listed = requested.map(view);
    } else {
      const unread = conversations
        .filter((c) => !c.archived && (unreadCount(states.get(c.id), c.countableSeq) > 0 || (mentions.get(c.id) ?? 0) > 0))
        .sort((a, b) => b.activityMs - a.activityMs || (a.id < b.id ? 1 : -1));
      truncated = unread.length > UNREAD_LIST_MAX;
      listed = unread.slice(0, UNREAD_LIST_MAX).map((c) => view(c.id));
    }
    return create(GetUnreadCountsResponseSchema, {
      readStates: listed,
      totalUnreadCount: Math.min(totalUnread, 2_147_483_647),
      totalMentionCount: Math.min(totalMentions, 2_147_483_647),
      unreadConversationCount: unreadConversations,
      truncated,
    });
  }
}
