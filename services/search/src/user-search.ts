import { create } from "@bufbuild/protobuf";
import { SearchUsersResponseSchema, UserHitSchema, type SearchUsersRequest, type SearchUsersResponse } from "@caas/gen/caas/search/v1/search_service_pb.js";
import type { AuthEventEnvelope } from "@caas/gen/caas/events/v1/auth_events_pb.js";
import type { UserStateEventEnvelope } from "@caas/gen/caas/events/v1/user_state_events_pb.js";
import { UserStatus } from "@caas/gen/caas/auth/v1/user_pb.js";
import { InvalidArgumentError } from "@caas/shared/errors";
import { scopeFromEvent, type TenantScope } from "@caas/shared/tenant-scope";
import type { PageTokenCodec } from "@caas/shared/page-token";
import { foldForMatch, pageSizeOf, queryWords } from "./domain/query.js";
import type { DirectoryKey, UserDirectory } from "./ports/user-directory.js";

/** Longest SearchUsers query (a display name is at most 128 characters). */
const MAX_USER_QUERY = 128;

/** SearchUsers over the user directory; the caller (SearchServiceImpl) has counted the call. */
export class UserSearch {
  constructor(
    private readonly directory: UserDirectory,
    private readonly pageTokens: PageTokenCodec,
  ) {}

  async search(caller: { scope: TenantScope; userId: string }, req: SearchUsersRequest): Promise<SearchUsersResponse> {
    const words = queryWords(req.query, MAX_USER_QUERY);
    const pageSize = pageSizeOf(req.pageSize);
    const folded = words.map((w) => foldForMatch(w).replace(/[^\p{L}\p{N}]+/gu, "")).filter((w) => w !== "");
    const idPrefix = words.length === 1 ? words[0]! : "";
    const binding = { tenantId: caller.scope.tenantId, query: JSON.stringify(["search-users/v1", caller.userId, words.join(" ")]) };
    const after = this.pageTokens.decode<DirectoryKey>(binding, req.pageToken);
    if (after !== undefined && !(Array.isArray(after) && after.length === 2 && after.every((x) => typeof x === "string"))) {
      throw new InvalidArgumentError("page_token is not valid for this query", [{ field: "page_token", description: "malformed" }]);
    }
    const rows = await this.directory.search(caller.scope, { words: folded, idPrefix, viewerId: caller.userId, limit: pageSize + 1, ...(after ? { after } : {}) });
    const page = rows.slice(0, pageSize);
    const last = page[page.length - 1];
    return create(SearchUsersResponseSchema, {
      users: page.map((u) => create(UserHitSchema, { userId: u.userId, displayName: u.displayName, avatarUrl: u.avatarUrl })),
      nextPageToken: rows.length > pageSize && last ? this.pageTokens.encode(binding, [last.nameFolded, last.userId]) : "",
    });
  }
}

/** Applies auth's user events to the directory: upserts, deactivation, reactivation, deletion. */
export async function applyAuthEvent(directory: UserDirectory, envelope: AuthEventEnvelope): Promise<void> {
  const p = envelope.payload;
  if (envelope.tenantId === "") return;
  const scope = scopeFromEvent({ tenantId: envelope.tenantId });
  switch (p.case) {
    case "userUpserted": {
      const u = p.value.user;
      if (!u) return;
      await directory.put(scope, { userId: u.id, displayName: u.displayName, avatarUrl: u.avatarUrl });
      await directory.setActive(scope, u.id, u.status !== UserStatus.DEACTIVATED);
      return;
    }
    case "userDeactivated":
      await directory.setActive(scope, p.value.userId, false);
      return;
    case "userReactivated":
      await directory.setActive(scope, p.value.userId, true);
      return;
    case "userDeleted":
      await directory.remove(scope, p.value.userId);
      return;
    default:
      return;
  }
}

/** Applies chat's block events (per-user state) to the directory. */
export async function applyUserStateEvent(directory: UserDirectory, envelope: UserStateEventEnvelope): Promise<void> {
  const p = envelope.payload;
  const scope = scopeFromEvent({ tenantId: envelope.tenantId });
  if (p.case === "userBlocked") await directory.setBlock(scope, envelope.userId, p.value.blockedUserId, true);
  else if (p.case === "userUnblocked") await directory.setBlock(scope, envelope.userId, p.value.blockedUserId, false);
}
