import { create } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { BadRequestSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import {
  ConversationHitSchema,
  MessageHitSchema,
  MessageOrder,
  SearchConversationsResponseSchema,
  SearchMessagesResponseSchema,
  SnippetSchema,
  type SearchConversationsRequest,
  type SearchConversationsResponse,
  type SearchMessagesRequest,
  type SearchMessagesResponse,
  type SearchService,
  type SearchUsersRequest,
  type SearchUsersResponse,
} from "@caas/gen/caas/search/v1/search_service_pb.js";
import { InvalidArgumentError, PermissionDeniedError, ResourceExhaustedError, UnauthenticatedError } from "@caas/shared/errors";
import { principalKey } from "@caas/shared/context";
import { scopeFromVerifiedClaims, type TenantScope } from "@caas/shared/tenant-scope";
import type { PageTokenCodec } from "@caas/shared/page-token";
import type { RateLimiter } from "@caas/shared/rate-limiting";
import { pageSizeOf, prefixMatch, queryWords } from "./domain/query.js";
import { SEARCH_MAX_CONVERSATION_IDS, type SearchIndex } from "./ports/search-index.js";
import type { SearchCache } from "./search-cache.js";
import type { UserSearch } from "./user-search.js";

/** Who is searching: a user access token only. */
export interface SearchCaller {
  scope: TenantScope;
  userId: string;
}

/** The caller of a SearchService RPC. */
export function searchCallerOf(ctx: HandlerContext): SearchCaller {
  const p = ctx.values.get(principalKey);
  if (p.kind === "anonymous") throw new UnauthenticatedError("a user access token is required");
  if (p.kind !== "user") throw new PermissionDeniedError("SearchService serves end users with a user access token");
  return { scope: scopeFromVerifiedClaims({ tenant: p.tenantId }), userId: p.userId };
}

export interface SearchDeps {
  index: SearchIndex;
  cache: SearchCache;
  users: UserSearch;
  pageTokens: PageTokenCodec;
  limiter: RateLimiter;
  /** The `search` rule of one user, and the tenant bucket's multiple of it. */
  rate: { capacity: number; refillPerSec: number; tenantFactor: number };
}

/** The most conversations one conversation search looks at (the most one user can be in). */
const MAX_LISTED = 10_000;

/**
 * caas.search.v1.SearchService. Every call first takes one token from the caller's `search`
 * bucket (then the tenant's): this is the only place searches are counted, so the RPCs through
 * the gateway and the realtime search frames share one bucket. Input is checked before anything
 * is searched; the conversations searched are those chat lets the caller read, each up to the
 * seq chat allows.
 */
export class SearchServiceImpl implements ServiceImpl<typeof SearchService> {
  constructor(private readonly deps: SearchDeps) {}

  async searchMessages(req: SearchMessagesRequest, ctx: HandlerContext): Promise<SearchMessagesResponse> {
    return this.messages(searchCallerOf(ctx), req);
  }

  async searchConversations(req: SearchConversationsRequest, ctx: HandlerContext): Promise<SearchConversationsResponse> {
    return this.conversations(searchCallerOf(ctx), req);
  }

  async searchUsers(req: SearchUsersRequest, ctx: HandlerContext): Promise<SearchUsersResponse> {
    return this.usersFor(searchCallerOf(ctx), req);
  }

  /** SearchMessages for a known caller (the realtime frames come here too). */
  async messages(caller: SearchCaller, req: SearchMessagesRequest): Promise<SearchMessagesResponse> {
    await this.take(caller);
    const words = queryWords(req.query);
    const pageSize = pageSizeOf(req.pageSize);
    const sentAfterMs = req.sentAfter ? timestampMs(req.sentAfter) : undefined;
    const sentBeforeMs = req.sentBefore ? timestampMs(req.sentBefore) : undefined;
    if (sentAfterMs !== undefined && sentBeforeMs !== undefined && sentBeforeMs <= sentAfterMs) {
      throw new InvalidArgumentError("sent_before must be later than sent_after", [{ field: "sent_before", description: "must be later than sent_after" }]);
    }
    const { cache, index } = this.deps;
    let readable;
    if (req.conversationIds.length > 0) {
      const { allowed, denied } = await cache.resolve(caller.scope, caller.userId, req.conversationIds);
      if (denied.length > 0) throw conversationsNotFound(req.conversationIds, denied);
      readable = allowed;
    } else {
      // The caller's own conversations; past the index's limit, a deterministic subset (by id).
      readable = (await cache.readable(caller.scope, caller.userId)).sort((a, b) => (a.conversationId < b.conversationId ? -1 : 1)).slice(0, SEARCH_MAX_CONVERSATION_IDS);
    }
    if (readable.length === 0) {
      // Nothing to search, but a page token can only come from another query (or be forged).
      if (req.pageToken !== "") throw new InvalidArgumentError("page_token is not valid for this query", [{ field: "page_token", description: "not from this query" }]);
      return create(SearchMessagesResponseSchema, {});
    }
    const conversationIds = readable.map((c) => c.conversationId);
    const maxSeqs = Object.fromEntries(readable.filter((c) => c.maxSeq > 0).map((c) => [c.conversationId, c.maxSeq]));
    const request = {
      query: words.join(" "),
      conversationIds,
      maxSeqs,
      pageSize,
      pageToken: req.pageToken,
      ...(req.senderIds.length > 0 ? { senderIds: req.senderIds } : {}),
      ...(sentAfterMs !== undefined ? { sentAfterMs } : {}),
      ...(sentBeforeMs !== undefined ? { sentBeforeMs } : {}),
      ...(req.hasAttachments !== undefined ? { hasAttachments: req.hasAttachments } : {}),
      order: req.order === MessageOrder.NEWEST ? ("newest" as const) : ("relevance" as const),
    };
    const page = await cache.page(caller.scope, caller.userId, request, conversationIds, () => index.search(caller.scope, request));
    return create(SearchMessagesResponseSchema, {
      hits: page.hits.map((h) =>
        create(MessageHitSchema, {
          messageId: h.messageId,
          conversationId: h.conversationId,
          seq: BigInt(h.seq),
          senderId: h.senderId,
          createTime: timestampFromMs(h.createTimeMs),
          snippet: create(SnippetSchema, { text: h.snippet.text, highlights: h.snippet.highlights }),
        }),
      ),
      nextPageToken: page.nextPageToken,
    });
  }

  /** SearchConversations for a known caller: the readable list from chat, matched by title. */
  async conversations(caller: SearchCaller, req: SearchConversationsRequest): Promise<SearchConversationsResponse> {
    await this.take(caller);
    const words = queryWords(req.query);
    const pageSize = pageSizeOf(req.pageSize);
    const binding = { tenantId: caller.scope.tenantId, query: JSON.stringify(["search-conversations/v1", caller.userId, words.join(" ")]) };
    const after = this.deps.pageTokens.decode<[string, string]>(binding, req.pageToken);
    if (after !== undefined && !(Array.isArray(after) && after.length === 2 && after.every((x) => typeof x === "string"))) {
      throw new InvalidArgumentError("page_token is not valid for this query", [{ field: "page_token", description: "malformed" }]);
    }
    const listed = (await this.deps.cache.readable(caller.scope, caller.userId)).slice(0, MAX_LISTED);
    const key = (c: { title: string; conversationId: string }): [string, string] => [c.title.toLowerCase(), c.conversationId];
    const before = (a: [string, string], b: [string, string]) => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
    const matches = listed
      .map((c) => ({ c, highlights: c.title === "" ? undefined : prefixMatch(c.title, words) }))
      .filter((m): m is { c: (typeof listed)[number]; highlights: { start: number; end: number }[] } => m.highlights !== undefined)
      .filter((m) => after === undefined || before(after, key(m.c)))
      .sort((x, y) => (before(key(x.c), key(y.c)) ? -1 : 1));
    const page = matches.slice(0, pageSize);
    const last = page[page.length - 1];
    return create(SearchConversationsResponseSchema, {
      conversations: page.map((m) => create(ConversationHitSchema, { conversationId: m.c.conversationId, title: m.c.title, highlights: m.highlights })),
      nextPageToken: matches.length > pageSize && last ? this.deps.pageTokens.encode(binding, key(last.c)) : "",
    });
  }

  /** SearchUsers for a known caller. */
  async usersFor(caller: SearchCaller, req: SearchUsersRequest): Promise<SearchUsersResponse> {
    await this.take(caller);
    return this.deps.users.search(caller, req);
  }

  /** One search against the caller's bucket, then the tenant's; RESOURCE_EXHAUSTED with the retry delay. */
  private async take(caller: SearchCaller): Promise<void> {
    const { limiter, rate } = this.deps;
    const rule = { capacity: rate.capacity, refillPerSec: rate.refillPerSec };
    const user = await limiter.take(caller.scope, `search:user:${caller.userId}`, rule);
    if (!user.allowed) throw new ResourceExhaustedError(`search rate limit reached for this user; retry in ${user.retryAfterMs} ms`, user.retryAfterMs);
    const tenant = await limiter.take(caller.scope, "search:tenant", { capacity: rule.capacity * rate.tenantFactor, refillPerSec: rule.refillPerSec * rate.tenantFactor });
    if (!tenant.allowed) throw new ResourceExhaustedError(`search rate limit reached for this tenant; retry in ${tenant.retryAfterMs} ms`, tenant.retryAfterMs);
  }
}

/**
 * NOT_FOUND naming the conversation ids the caller cannot search, whether they do not exist,
 * belong to another tenant or are not readable by the caller: the answer is the same.
 */
function conversationsNotFound(requested: readonly string[], denied: readonly string[]): ConnectError {
  const set = new Set(denied);
  const fieldViolations = requested.flatMap((id, i) => (set.has(id) ? [{ field: `conversation_ids[${i}]`, description: "no such conversation" }] : []));
  return new ConnectError("conversation not found", Code.NotFound, undefined, [{ desc: BadRequestSchema, value: create(BadRequestSchema, { fieldViolations }) }]);
}
