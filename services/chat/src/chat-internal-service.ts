import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  CheckAccessResponseSchema,
  ConversationAccessSchema,
  GetConversationMembersResponseSchema,
  ListReadableConversationsResponseSchema,
  ReadableConversationSchema,
  ListMembershipsResponseSchema,
  ScanConversationsResponseSchema,
  SyncInternalResponseSchema,
  type ChatInternalService,
  type CheckAccessRequest,
  type CheckAccessResponse,
  type GetConversationMembersRequest,
  type GetConversationMembersResponse,
  type ListMembershipsRequest,
  type ListMembershipsResponse,
  type ListReadableConversationsRequest,
  type ListReadableConversationsResponse,
  type ReadableConversation,
  type ScanConversationsRequest,
  type ScanConversationsResponse,
  type SyncInternalRequest,
  type SyncInternalResponse,
} from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { NotFoundError, PermissionDeniedError, UnauthenticatedError } from "@caas/shared/errors";
import { principalKey } from "@caas/shared/context";
import { scopeForAdmin, type TenantScope } from "@caas/shared/tenant-scope";
import type { EventLogStore } from "@caas/shared/eventing/log";
import type { PageTokenCodec } from "@caas/shared/page-token";
import { projectedHead } from "./core.js";
import { decodeEvent } from "./domain/events.js";
import { checkUserId, checkUuid, invalid, pageSize } from "./domain/input.js";
import { conversationView, memberView } from "./domain/views.js";
import type { ConversationRecord, ConversationStore } from "./ports/conversation-store.js";
import type { MemberRecord, MemberStore } from "./ports/member-store.js";

/** Every RPC of caas.chat.v1.ChatInternalService: the compiler checks the class implements them all. */
export type ChatInternalRpcs = ServiceImpl<typeof ChatInternalService>;

/** Most rows one store call returns: larger requested pages come back in pages of this size. */
const STORE_PAGE_MAX = 1000;

export interface ChatInternalDeps {
  stores: { events: EventLogStore; conversations: ConversationStore; members: MemberStore };
  /** Signs page tokens (the same codec as ChatService's; bindings keep the two apart). */
  pageTokens: PageTokenCodec;
}

/**
 * The calling service's name. Only `service` principals may call ChatInternalService: anonymous
 * callers get UNAUTHENTICATED, users, API keys and the platform admin PERMISSION_DENIED.
 */
export function serviceCallerOf(ctx: HandlerContext): string {
  const p = ctx.values.get(principalKey);
  if (p.kind === "anonymous") throw new UnauthenticatedError("a service token is required");
  if (p.kind !== "service") throw new PermissionDeniedError("ChatInternalService serves other CAAS services only");
  return p.service;
}

/**
 * caas.chat.v1.ChatInternalService: access checks, member lists for fan-out,
 * a user's memberships and the raw log, for socket, search and projections. Requests name their
 * tenant; the caller is a verified service, and every read is scoped to that tenant.
 */
export class ChatInternalServiceImpl implements Omit<ChatInternalRpcs, "exportUserData" | "eraseUserData" | "applyRetention" | "eraseTenantData"> {
  constructor(private readonly deps: ChatInternalDeps) {}

  /**
   * Per conversation, what the user may read: members and viewers of OPEN conversations from
   * seq 1 with no upper bound (viewers without a member), former members up to their
   * departure, and after a deletion every former member up to it. Unknown conversations and
   * users with no access come back with both bounds 0.
   */
  async checkAccess(req: CheckAccessRequest, ctx: HandlerContext): Promise<CheckAccessResponse> {
    serviceCallerOf(ctx);
    const scope = tenantScope(req.tenantId);
    const userId = checkUserId("user_id", req.userId);
    if (req.conversationIds.length === 0 || req.conversationIds.length > 100) throw invalid("conversation_ids", "between 1 and 100");
    const ids = req.conversationIds.map((id, i) => checkUuid(`conversation_ids[${i}]`, id));
    if (new Set(ids).size !== ids.length) throw invalid("conversation_ids", "must be unique");
    const { conversations, members } = this.deps.stores;
    const [found, rows] = await Promise.all([conversations.getMany(scope, ids), Promise.all(ids.map((id) => members.get(scope, id, userId)))]);
    const byId = new Map(found.map((c) => [c.id, c]));
    const accesses = ids.map((conversationId, i) => {
      const c = byId.get(conversationId);
      const m = rows[i];
      const range = c ? readableRange(c, m) : undefined;
      return create(ConversationAccessSchema, {
        conversationId,
        ...(m?.active && c?.deletedSeq === 0 ? { member: memberView(m) } : {}),
        ...(range ? { firstVisibleSeq: BigInt(range.first), lastVisibleSeq: BigInt(range.last) } : {}),
      });
    });
    return create(CheckAccessResponseSchema, { accesses });
  }

  /**
   * Current members for fan-out, in (joined_seq, user_id) order. `as_of_seq` is the log head read
   * before the first page; members who joined after it are left out of every page, so the
   * caller applies membership events after as_of_seq from the stream (a departure after it may
   * already be reflected; applying it again changes nothing). NOT_FOUND for unknown or deleted
   * conversations.
   */
  async getConversationMembers(req: GetConversationMembersRequest, ctx: HandlerContext): Promise<GetConversationMembersResponse> {
    serviceCallerOf(ctx);
    const scope = tenantScope(req.tenantId);
    const conversationId = checkUuid("conversation_id", req.conversationId);
    const limit = Math.min(pageSize(req.pageSize, 1000, 5000), STORE_PAGE_MAX);
    const { conversations, members, events } = this.deps.stores;
    const binding = { tenantId: scope.tenantId, query: `internal-members|${conversationId}` };
    const after = this.deps.pageTokens.decode<[number, number, string]>(binding, req.pageToken);
    const conversation = await conversations.get(scope, conversationId);
    if (!conversation || conversation.deletedSeq > 0) throw new NotFoundError("conversation");
    const asOf = after ? after[0] : (await events.head(scope, conversationId, projectedHead(conversation))).seq;
    // A full page may be followed by an empty last one (no look-ahead row: pages reach the store's maximum).
    const rows = await members.list(scope, conversationId, { ...(after ? { after: { joinedSeq: after[1], userId: after[2] } } : {}), limit });
    const more = rows.length === limit;
    const last = rows[rows.length - 1];
    return create(GetConversationMembersResponseSchema, {
      members: rows.filter((m) => m.joinedSeq <= asOf).map(memberView),
      nextPageToken: more && last ? this.deps.pageTokens.encode(binding, [asOf, last.joinedSeq, last.userId]) : "",
      asOfSeq: BigInt(asOf),
    });
  }

  /** A user's current memberships (deleted conversations excluded), ordered by conversation id. */
  async listMemberships(req: ListMembershipsRequest, ctx: HandlerContext): Promise<ListMembershipsResponse> {
    serviceCallerOf(ctx);
    const scope = tenantScope(req.tenantId);
    const userId = checkUserId("user_id", req.userId);
    const limit = pageSize(req.pageSize, 1000, 5000);
    const binding = { tenantId: scope.tenantId, query: `internal-memberships|${userId}` };
    const after = this.deps.pageTokens.decode<string>(binding, req.pageToken);
    const { members, conversations } = this.deps.stores;
    const rows = (await members.ofUser(scope, userId)).filter((m) => after === undefined || m.conversationId > after).sort((a, b) => (a.conversationId < b.conversationId ? -1 : 1));
    const live = new Set<string>();
    // Drop deleted conversations, reading them a store page at a time until the page is full.
    const shown = [];
    for (let i = 0; i < rows.length && shown.length <= limit; i += STORE_PAGE_MAX) {
      const chunk = rows.slice(i, i + STORE_PAGE_MAX);
      for (const c of await conversations.getMany(
        scope,
        chunk.map((m) => m.conversationId),
      ))
        if (c.deletedSeq === 0) live.add(c.id);
      shown.push(...chunk.filter((m) => live.has(m.conversationId)));
    }
    const page = shown.slice(0, limit);
    const last = page[page.length - 1];
    return create(ListMembershipsResponseSchema, {
      memberships: page.map(memberView),
      nextPageToken: shown.length > limit && last ? this.deps.pageTokens.encode(binding, last.conversationId) : "",
    });
  }

  /**
   * A tenant's conversations (deleted ones excluded) in ascending id order, for projection
   * rebuilds and retention sweeps. page_size 0 means 500, at most 2000; the page token is the
   * last id shown, bound to the tenant. Conversations created during a scan appear when their id
   * sorts after the position reached (UUIDv7 ids mostly do).
   */
  async scanConversations(req: ScanConversationsRequest, ctx: HandlerContext): Promise<ScanConversationsResponse> {
    serviceCallerOf(ctx);
    const scope = tenantScope(req.tenantId);
    const limit = pageSize(req.pageSize, 500, 2000);
    const binding = { tenantId: scope.tenantId, query: "internal-scan-conversations" };
    const after = this.deps.pageTokens.decode<string>(binding, req.pageToken);
    if (after !== undefined && typeof after !== "string") throw invalid("page_token", "not valid for this query");
    const { conversations, members } = this.deps.stores;
    // One row past the page tells whether another page follows; the store gives at most STORE_PAGE_MAX per call.
    const rows = [];
    let afterId = after;
    while (rows.length <= limit) {
      const want = Math.min(limit + 1 - rows.length, STORE_PAGE_MAX);
      const batch = await conversations.scan(scope, { ...(afterId === undefined ? {} : { afterId }), limit: want });
      rows.push(...batch);
      if (batch.length < want) break;
      afterId = batch[batch.length - 1]!.id;
    }
    const page = rows.slice(0, limit);
    const counts = new Map<string, number>();
    for (let i = 0; i < page.length; i += 1000) {
      for (const [id, n] of await members.countMany(
        scope,
        page.slice(i, i + 1000).map((c) => c.id),
      ))
        counts.set(id, n);
    }
    const last = page[page.length - 1];
    return create(ScanConversationsResponseSchema, {
      conversations: page.map((c) => conversationView(c, counts.get(c.id) ?? 0)),
      nextPageToken: rows.length > limit && last ? this.deps.pageTokens.encode(binding, last.id) : "",
    });
  }

  /**
   * The conversations a user is or was a member of, with the range CheckAccess gives for each
   * (deleted conversations excluded), ordered by id; the page token is the last id shown.
   */
  async listReadableConversations(req: ListReadableConversationsRequest, ctx: HandlerContext): Promise<ListReadableConversationsResponse> {
    serviceCallerOf(ctx);
    const scope = tenantScope(req.tenantId);
    const userId = checkUserId("user_id", req.userId);
    const limit = pageSize(req.pageSize, 1000, 5000);
    const binding = { tenantId: scope.tenantId, query: `internal-readable|${userId}` };
    const after = this.deps.pageTokens.decode<string>(binding, req.pageToken);
    if (after !== undefined && typeof after !== "string") throw invalid("page_token", "not valid for this query");
    const { members, conversations } = this.deps.stores;
    // Former members keep their history up to the departure: every row with a departure time.
    const rows = (await members.ofUser(scope, userId, { leftAfterMs: 0 }))
      .filter((m) => after === undefined || m.conversationId > after)
      .sort((a, b) => (a.conversationId < b.conversationId ? -1 : 1));
    const shown: ReadableConversation[] = [];
    for (let i = 0; i < rows.length && shown.length <= limit; i += STORE_PAGE_MAX) {
      const chunk = rows.slice(i, i + STORE_PAGE_MAX);
      const byId = new Map(
        (
          await conversations.getMany(
            scope,
            chunk.map((m) => m.conversationId),
          )
        ).map((c) => [c.id, c]),
      );
      for (const m of chunk) {
        const c = byId.get(m.conversationId);
        const range = c && c.deletedSeq === 0 ? readableRange(c, m) : undefined;
        if (c && range) shown.push(create(ReadableConversationSchema, { conversationId: c.id, title: c.title, firstVisibleSeq: BigInt(range.first), lastVisibleSeq: BigInt(range.last) }));
      }
    }
    const page = shown.slice(0, limit);
    const last = page[page.length - 1];
    return create(ListReadableConversationsResponseSchema, {
      conversations: page,
      nextPageToken: shown.length > limit && last ? this.deps.pageTokens.encode(binding, last.conversationId) : "",
    });
  }

  /** The stored log after a seq, with no per-user visibility (at most 1000 events per call). */
  async syncInternal(req: SyncInternalRequest, ctx: HandlerContext): Promise<SyncInternalResponse> {
    serviceCallerOf(ctx);
    const scope = tenantScope(req.tenantId);
    const conversationId = checkUuid("conversation_id", req.conversationId);
    if (req.limit < 0 || req.limit > 2000) throw invalid("limit", "must be between 0 and 2000");
    const limit = Math.min(req.limit === 0 ? 500 : req.limit, STORE_PAGE_MAX);
    const { events, conversations } = this.deps.stores;
    const conversation = await conversations.get(scope, conversationId);
    if (!conversation) throw new NotFoundError("conversation");
    const [head, [first]] = await Promise.all([events.head(scope, conversationId, projectedHead(conversation)), events.read(scope, conversationId, 0, 1)]);
    const firstAvailable = first?.seq ?? 0;
    const after = Math.max(req.afterSeq > BigInt(head.seq) ? head.seq : Number(req.afterSeq), firstAvailable - 1, 0);
    const count = Math.min(limit, head.seq - after);
    const batch = count > 0 ? await events.read(scope, conversationId, after, count) : [];
    const last = batch[batch.length - 1];
    return create(SyncInternalResponseSchema, {
      events: batch.map(decodeEvent),
      hasMore: (last?.seq ?? after) < head.seq,
      firstAvailableSeq: BigInt(firstAvailable),
      headSeq: BigInt(head.seq),
    });
  }
}

/**
 * The seqs a user may read in a conversation (both bounds inclusive; `last` 0 = no bound), or
 * undefined for none: members and viewers of OPEN conversations from seq 1 with no upper bound,
 * former members up to their departure, and after a deletion every former member up to it.
 */
function readableRange(c: ConversationRecord, m: MemberRecord | undefined): { first: number; last: number } | undefined {
  if (c.deletedSeq > 0) return m ? { first: 1, last: m.active ? c.deletedSeq : Math.min(m.leftSeq, c.deletedSeq) } : undefined;
  if (m?.active || c.joinPolicy === "open") return { first: 1, last: 0 };
  if (m) return { first: 1, last: m.leftSeq };
  return undefined;
}

const TENANT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The tenant a service request names (a UUID, as the protos declare). Internal callers act for
 * the platform, like a platform-admin operation naming a tenant: the principal was verified
 * (serviceCallerOf) before any request field is trusted, and the tenant comes from the event
 * envelope or user token that caller is serving.
 */
/** The admin scope of a request's tenant: INVALID_ARGUMENT unless it is a lowercase UUID. */
export function internalTenantScope(tenantId: string): TenantScope {
  return tenantScope(tenantId);
}

function tenantScope(tenantId: string): TenantScope {
  if (!TENANT_ID.test(tenantId)) throw invalid("tenant_id", "must be a lowercase UUID");
  return scopeForAdmin(tenantId);
}
