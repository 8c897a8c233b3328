import { createHash, randomUUID } from "node:crypto";
import type { TenantScope } from "@caas/shared/tenant-scope";
import type { Cache } from "./ports/cache.js";
import type { ConversationAccess, ReadableConversation } from "./ports/conversation-access.js";

/** How long a user's list of readable conversations is trusted without an event changing it. */
export const ACCESS_ALLOWED_TTL_MS = 300_000;
/** How long a refused conversation id stays refused without asking chat again. */
export const ACCESS_DENIED_TTL_MS = 60_000;
/** How long one page of results is kept. */
export const RESULT_TTL_MS = 60_000;
/**
 * Generations outlive every entry computed under them: an expired generation reads as "none",
 * and an entry made under an earlier "none" has expired by then, so it can never match again.
 */
const GENERATION_TTL_MS = 2 * Math.max(ACCESS_ALLOWED_TTL_MS, RESULT_TTL_MS);

type Compact = [conversationId: string, title: string, maxSeq: number];

const digest = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("base64url");

/**
 * The search service's read-path caches, on the Cache port (memory embedded, Redis in cluster):
 *
 * - a user's readable conversations (chat's answer), for 300 s, under the user's and the tenant's
 *   access generations; a conversation id chat refused, for 60 s;
 * - a page of results, for 60 s, keyed by (user, request) and stored with a digest of the
 *   generations of the conversations it covered.
 *
 * Events bump generations instead of finding entries: a membership event of a user bumps that
 * user's generation (their list and results are re-read) and drops their refusals of that
 * conversation; a deleted or renamed conversation bumps the tenant's; every indexed change of a
 * conversation (new, edited or deleted message) bumps the conversation's, which invalidates every
 * cached page that covered it. Generations are read before the index is searched, so a page is
 * never stored under a generation newer than the data it saw.
 */
export class SearchCache {
  constructor(
    private readonly cache: Cache,
    private readonly access: ConversationAccess,
  ) {}

  /** The user's readable conversations, from the cache or chat. */
  async readable(scope: TenantScope, userId: string): Promise<ReadableConversation[]> {
    const [tenantGen, userGen] = await this.cache.getMany<string>(scope, ["gen:tenant", `gen:user:${userId}`]);
    const key = `acl:${userId}:${tenantGen ?? "0"}:${userGen ?? "0"}`;
    const hit = await this.cache.get<Compact[]>(scope, key);
    if (hit) return hit.map(([conversationId, title, maxSeq]) => ({ conversationId, title, maxSeq }));
    const list = await this.access.listReadable(scope, userId);
    await this.cache.set(
      scope,
      key,
      list.map((c): Compact => [c.conversationId, c.title, c.maxSeq]),
      ACCESS_ALLOWED_TTL_MS,
    );
    return list;
  }

  /**
   * The conversations of `ids` the user may read (with their bounds): those in the cached list,
   * and those chat allows when asked again (a join the list has not seen yet); refusals are
   * remembered for ACCESS_DENIED_TTL_MS.
   */
  async resolve(scope: TenantScope, userId: string, ids: readonly string[]): Promise<{ allowed: ReadableConversation[]; denied: string[] }> {
    const listed = new Map((await this.readable(scope, userId)).map((c) => [c.conversationId, c]));
    const allowed: ReadableConversation[] = [];
    const unknown = [];
    for (const id of ids) {
      const c = listed.get(id);
      if (c) allowed.push(c);
      else unknown.push(id);
    }
    if (unknown.length === 0) return { allowed, denied: [] };
    const refusedBefore = await this.cache.getMany<boolean>(
      scope,
      unknown.map((id) => `deny:${userId}:${id}`),
    );
    const ask = unknown.filter((_, i) => refusedBefore[i] !== true);
    const granted = new Map((ask.length > 0 ? await this.access.check(scope, userId, ask) : []).map((c) => [c.conversationId, c]));
    const denied = unknown.filter((id) => !granted.has(id));
    allowed.push(...granted.values());
    await Promise.all(ask.filter((id) => !granted.has(id)).map((id) => this.cache.set(scope, `deny:${userId}:${id}`, true, ACCESS_DENIED_TTL_MS)));
    return { allowed, denied };
  }

  /**
   * A cached page for `request` over `conversationIds`, or computes it with `run` and keeps it.
   * The generations are read before `run`, so a page is kept only under what it saw.
   */
  async page<T>(scope: TenantScope, userId: string, request: unknown, conversationIds: readonly string[], run: () => Promise<T>): Promise<T> {
    const key = `res:${userId}:${digest(request)}`;
    const gens = digest(
      await this.cache.getMany<string>(
        scope,
        [...conversationIds].sort().map((id) => `gen:conv:${id}`),
      ),
    );
    const hit = await this.cache.get<{ gens: string; value: T }>(scope, key);
    if (hit && hit.gens === gens) return hit.value;
    const value = await run();
    await this.cache.set(scope, key, { gens, value }, RESULT_TTL_MS);
    return value;
  }

  /** A membership change of `userId` in `conversationId`: their list, refusal and pages are re-read. */
  async membershipChanged(scope: TenantScope, userId: string, conversationId: string): Promise<void> {
    await Promise.all([this.cache.set(scope, `gen:user:${userId}`, randomUUID(), GENERATION_TTL_MS), this.cache.delete(scope, `deny:${userId}:${conversationId}`)]);
  }

  /** A conversation deleted or renamed: every user's list in the tenant is re-read. */
  async conversationsChanged(scope: TenantScope): Promise<void> {
    await this.cache.set(scope, "gen:tenant", randomUUID(), GENERATION_TTL_MS);
  }

  /** Messages of a conversation indexed, edited or deleted: the pages covering it are recomputed. */
  async contentChanged(scope: TenantScope, conversationId: string): Promise<void> {
    await this.cache.set(scope, `gen:conv:${conversationId}`, randomUUID(), GENERATION_TTL_MS);
  }
}
