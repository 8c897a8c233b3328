import { toJson } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type { EraseUserDataRequest, EraseUserDataResponse, ExportUserDataRequest, ExportUserDataResponse } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { UserSchema } from "@caas/gen/caas/auth/v1/user_pb.js";
import { principalKey, type Principal } from "@caas/shared/context";
import { NotFoundError } from "@caas/shared/errors";
import { scopeForAdmin, type TenantScope } from "@caas/shared/tenant-scope";
import type { Clock } from "@caas/shared/clock";
import type { Logger } from "@caas/shared/logger";
import type { AuthEventPublisher } from "./auth-events.js";
import { userToProto } from "./domain/mapping.js";
import type { PasswordStore } from "./ports/password-store.js";
import type { SessionRecord, SessionRevokeReason, SessionStore } from "./ports/session-store.js";
import type { TotpStore } from "./ports/totp-store.js";
import type { UserStore } from "./ports/user-store.js";
import type { SessionManager } from "./sessions.js";

/** Sessions listed per store call. */
const SESSION_PAGE = 500;

export interface AuthUserDataDeps {
  users: UserStore;
  sessions: SessionStore;
  passwords: PasswordStore;
  totp: TotpStore;
  /** Revokes sessions and publishes SessionRevoked (the deny-set entry that stops their access tokens). */
  sessionManager: Pick<SessionManager, "revoke">;
  events: Pick<AuthEventPublisher, "userDeleted">;
  clock: Clock;
  logger: Logger;
}

/**
 * AuthInternalService's user-data RPCs, for the compliance service: ExportUserData (profile,
 * password logins without hashes, TOTP state without its secret, active sessions) and
 * EraseUserData (sessions revoked, logins and TOTP removed, profile deleted). Service tokens only
 * (the shared internal-service interceptor).
 */
export function createAuthUserDataRpcs(deps: AuthUserDataDeps) {
  return {
    async exportUserData(req: ExportUserDataRequest): Promise<Pick<ExportUserDataResponse, "jsonLines">> {
      const scope = scopeForAdmin(req.tenantId);
      const user = await deps.users.get(scope, req.userId);
      if (!user) throw new NotFoundError("user");
      const lines = [JSON.stringify({ kind: "profile", user: toJson(UserSchema, userToProto(user)) })];
      for (const login of await deps.passwords.ofUser(scope, user.id)) lines.push(JSON.stringify({ kind: "password_login", login: login.login, createTimeMs: login.createTimeMs }));
      const totp = await deps.totp.get(scope, user.id);
      if (totp) lines.push(JSON.stringify({ kind: "totp", enabled: totp.enabled, createTimeMs: totp.createTimeMs }));
      for (const s of await activeSessions(deps, scope, user.id)) {
        const { id, deviceId, deviceName, scopes, mfaSatisfied, createTimeMs, lastSeenTimeMs, expireTimeMs } = s;
        lines.push(JSON.stringify({ kind: "session", id, deviceId, deviceName, scopes, mfaSatisfied, createTimeMs, lastSeenTimeMs, expireTimeMs }));
      }
      return { jsonLines: lines };
    },

    async eraseUserData(req: EraseUserDataRequest, ctx: HandlerContext): Promise<Pick<EraseUserDataResponse, "found" | "sessionsRevoked" | "loginsRemoved">> {
      return removeAccount(deps, scopeForAdmin(req.tenantId), req.userId, "user-erased", ctx.values.get(principalKey));
    },
  };
}

/**
 * Removes a user's account with everything that lets anyone act as it: sessions revoked (their
 * refresh tokens stop working and SessionRevoked reaches every verifier), password logins and
 * TOTP removed, the profile row deleted, UserDeleted published. Used by erasure and by
 * UserAdminService.DeleteUser; without it an id reused later would inherit the old sessions and
 * logins. Sessions go first, so a retry after a crash finds the rest still there and finishes it.
 */
export async function removeAccount(
  deps: AuthUserDataDeps,
  scope: TenantScope,
  userId: string,
  reason: SessionRevokeReason,
  actor?: Principal,
): Promise<{ found: boolean; sessionsRevoked: number; loginsRemoved: number }> {
  const sessions = await activeSessions(deps, scope, userId);
  for (const s of sessions) await deps.sessionManager.revoke(scope, s.id, reason);
  const loginsRemoved = await deps.passwords.removeUser(scope, userId);
  await deps.totp.remove(scope, userId);
  const found = await deps.users.delete(scope, userId);
  if (found) await deps.events.userDeleted(scope.tenantId, userId, actor);
  deps.logger.info({ tenantId: scope.tenantId, userId, sessions: sessions.length, found, reason }, "user's account removed");
  return { found, sessionsRevoked: sessions.length, loginsRemoved };
}

async function activeSessions(deps: AuthUserDataDeps, scope: TenantScope, userId: string): Promise<SessionRecord[]> {
  const out: SessionRecord[] = [];
  const nowMs = deps.clock.nowMs();
  for (;;) {
    const last = out[out.length - 1];
    const page = await deps.sessions.listActive(scope, { userId, nowMs, limit: SESSION_PAGE, ...(last ? { after: { lastSeenTimeMs: last.lastSeenTimeMs, id: last.id } } : {}) });
    out.push(...page);
    if (page.length < SESSION_PAGE) return out;
  }
}
