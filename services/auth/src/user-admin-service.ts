import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  UserAdminService,
  type DeactivateUserRequest,
  type DeleteUserRequest,
  type GetUserRequest,
  type IssueUserTokenRequest,
  type ListUsersRequest,
  type ReactivateUserRequest,
  type UpsertUserRequest,
} from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from "@caas/shared/errors";
import { principalKey, type Principal } from "@caas/shared/context";
import type { Clock } from "@caas/shared/clock";
import type { Logger } from "@caas/shared/logger";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { userStatusFilter, userToProto } from "./domain/mapping.js";
import type { Pager } from "./domain/paging.js";
import type { UserRecord, UserState, UserStore } from "./ports/user-store.js";
import { requireApiKey } from "./principals.js";
import type { SessionManager } from "./sessions.js";
import type { AuthEventPublisher } from "./auth-events.js";
import type { AuthThrottle } from "./throttle.js";

/** Encoded size cap of User.custom (the protos document 8 KiB). */
export const MAX_CUSTOM_BYTES = 8 * 1024;

/** The ports and helpers UserAdminService is built from. */
export interface UserAdminDeps {
  users: UserStore;
  /** Deletes the account with its sessions, logins and TOTP (user-data.ts removeAccount); false: no such user. */
  removeAccount(scope: TenantScope, userId: string, actor?: Principal): Promise<{ found: boolean }>;
  sessions: SessionManager;
  events: AuthEventPublisher;
  throttle: AuthThrottle;
  pager: Pager;
  clock: Clock;
  logger: Logger;
}

/**
 * caas.auth.v1.UserAdminService: a tenant backend manages its users and mints their tokens with
 * an API key. The tenant is always the key's (checked against the store of record on each call);
 * ids of another tenant's users are simply not found, exactly like ids that do not exist.
 * IssueUserToken starts a new session (one per call) and returns its access and refresh tokens.
 */
export class UserAdminServiceImpl implements ServiceImpl<typeof UserAdminService> {
  constructor(private readonly deps: UserAdminDeps) {}

  async upsertUser(req: UpsertUserRequest, ctx: HandlerContext) {
    const { scope } = requireApiKey(ctx);
    let custom = "";
    if (req.custom !== undefined) {
      custom = JSON.stringify(req.custom);
      if (Buffer.byteLength(custom) > MAX_CUSTOM_BYTES) {
        throw new InvalidArgumentError("custom is too large", [{ field: "custom", description: `encoded size must be at most ${MAX_CUSTOM_BYTES} bytes` }]);
      }
    }
    const { user, created } = await this.deps.users.upsert(scope, { id: req.userId, displayName: req.displayName, avatarUrl: req.avatarUrl, custom, roles: req.roles }, this.deps.clock.nowMs());
    const view = userToProto(user);
    await this.deps.events.userUpserted(view, created, ctx.values.get(principalKey));
    return { user: view, created };
  }

  async getUser(req: GetUserRequest, ctx: HandlerContext) {
    const { scope } = requireApiKey(ctx);
    return { user: userToProto(await this.user(scope, req.userId)) };
  }

  async listUsers(req: ListUsersRequest, ctx: HandlerContext) {
    const { scope } = requireApiKey(ctx);
    const status = userStatusFilter(req.status);
    const binding = { tenantId: scope.tenantId, query: `users;status=${status ?? "any"}` };
    const afterId = this.deps.pager.after(binding, req.pageToken);
    const { rows, nextPageToken } = await this.deps.pager.page(
      binding,
      req.pageSize,
      (limit) => this.deps.users.list(scope, { status, afterId, limit }),
      (u) => u.id,
    );
    return { users: rows.map(userToProto), nextPageToken };
  }

  async deactivateUser(req: DeactivateUserRequest, ctx: HandlerContext) {
    const { scope } = requireApiKey(ctx);
    const user = await this.setStatus(scope, req.userId, "deactivated");
    await this.deps.events.userDeactivated(scope.tenantId, user.id, ctx.values.get(principalKey));
    return { user: userToProto(user) };
  }

  async reactivateUser(req: ReactivateUserRequest, ctx: HandlerContext) {
    const { scope } = requireApiKey(ctx);
    const user = await this.setStatus(scope, req.userId, "active");
    await this.deps.events.userReactivated(scope.tenantId, user.id, ctx.values.get(principalKey));
    return { user: userToProto(user) };
  }

  async deleteUser(req: DeleteUserRequest, ctx: HandlerContext) {
    const { scope } = requireApiKey(ctx);
    const { found } = await this.deps.removeAccount(scope, req.userId, ctx.values.get(principalKey));
    if (!found) throw new NotFoundError("user");
    return {};
  }

  async issueUserToken(req: IssueUserTokenRequest, ctx: HandlerContext) {
    const { scope } = requireApiKey(ctx);
    await this.deps.throttle.issueUserToken(scope, req.userId);
    const user = await this.user(scope, req.userId);
    if (user.status !== "active") throw new FailedPreconditionError("the user is deactivated");
    // The tenant backend vouches for the user: its own sign-in counts as complete.
    const tokens = await this.deps.sessions.start({
      scope,
      user,
      deviceId: req.deviceId,
      deviceName: req.deviceName,
      scopes: req.scopes,
      mfaSatisfied: false,
    });
    return { tokens };
  }

  private async user(scope: TenantScope, id: string): Promise<UserRecord> {
    const user = await this.deps.users.get(scope, id);
    if (!user) throw new NotFoundError("user");
    return user;
  }

  private async setStatus(scope: TenantScope, id: string, status: UserState): Promise<UserRecord> {
    const user = await this.deps.users.setStatus(scope, id, status, this.deps.clock.nowMs());
    if (!user) throw new NotFoundError("user");
    return user;
  }
}
