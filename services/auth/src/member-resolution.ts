import type { HandlerContext } from "@connectrpc/connect";
import type { ResolveMembersRequest } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { principalKey } from "@caas/shared/context";
import { NotFoundError } from "@caas/shared/errors";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import type { Clock } from "@caas/shared/clock";
import type { Logger } from "@caas/shared/logger";
import type { AuthEventPublisher } from "./auth-events.js";
import { settingsFromJson, userToProto } from "./domain/mapping.js";
import type { TenantStore } from "./ports/tenant-store.js";
import type { UserStore } from "./ports/user-store.js";

/** What AuthInternalService.ResolveMembers reads and writes. */
export interface MemberResolutionDeps {
  users: UserStore;
  tenants?: TenantStore;
  events: Pick<AuthEventPublisher, "userUpserted">;
  clock: Clock;
  logger: Logger;
}

/**
 * AuthInternalService.ResolveMembers: the requested ids that are not active users of the tenant.
 * With the tenant setting create_users_on_first_use, unknown ids are created first (the id as display name,
 * no roles, ACTIVE, a UserUpserted event each) with `createIfAbsent`, so a user created concurrently by the
 * tenant's backend keeps its profile. Deactivated users are never revived here.
 */
export async function resolveMembers(deps: MemberResolutionDeps, req: ResolveMembersRequest, ctx: HandlerContext): Promise<{ missingUserIds: string[]; createdUserIds: string[] }> {
  const scope = scopeForAdmin(req.tenantId);
  const tenant = await deps.tenants?.get(scope);
  if (!tenant) throw new NotFoundError("tenant");
  const createOnFirstUse = settingsFromJson(tenant.settings).createUsersOnFirstUse;
  const found = await Promise.all(req.userIds.map((id) => deps.users.get(scope, id)));
  const missingUserIds: string[] = [];
  const createdUserIds: string[] = [];
  for (const [i, id] of req.userIds.entries()) {
    let user = found[i];
    if (!user && createOnFirstUse) {
      const result = await deps.users.createIfAbsent(scope, { id, displayName: id, avatarUrl: "", custom: "", roles: [] }, deps.clock.nowMs());
      user = result.user;
      if (result.created) {
        createdUserIds.push(id);
        await deps.events.userUpserted(userToProto(user), true, ctx.values.get(principalKey));
      }
    }
    if (!user || user.status !== "active") missingUserIds.push(id);
  }
  if (createdUserIds.length > 0) deps.logger.info({ tenantId: req.tenantId, count: createdUserIds.length }, "users created on first use");
  return { missingUserIds, createdUserIds };
}
