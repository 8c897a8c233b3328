import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { SessionTokensSchema, type SessionTokens } from "@caas/gen/caas/auth/v1/token_pb.js";
import { newId } from "@caas/shared/ids";
import { PermissionDeniedError, UnauthenticatedError } from "@caas/shared/errors";
import { scopeForAdmin, type TenantScope } from "@caas/shared/tenant-scope";
import type { Clock } from "@caas/shared/clock";
import type { Logger } from "@caas/shared/logger";
import { hashCredential, newRefreshToken, refreshTokenTenantOf } from "./domain/secrets.js";
import type { AccessTokenIssuer } from "./keys/token-issuer.js";
import type { SessionRecord, SessionRevokeReason, SessionStore } from "./ports/session-store.js";
import type { TenantStore } from "./ports/tenant-store.js";
import type { UserRecord, UserStore } from "./ports/user-store.js";

/** A refresh family lives this long after its last refresh (sliding). */
export const REFRESH_TOKEN_LIFETIME_MS = 30 * 86_400_000;

/** Told about every revoke of a session, also a repeated one (the revocation events hang here). */
export type SessionRevokedListener = (session: SessionRecord) => Promise<void> | void;

/** What sessions are built from. */
export interface SessionManagerDeps {
  sessions: SessionStore;
  users: UserStore;
  tenants: TenantStore;
  tokens: AccessTokenIssuer;
  pepper: Buffer;
  clock: Clock;
  logger: Logger;
  /** Called after each revoke, with the session as stored (its first revoke time and reason). */
  onRevoked?: SessionRevokedListener;
}

/** Who a new session is for. */
export interface NewSession {
  scope: TenantScope;
  user: UserRecord;
  deviceId: string;
  deviceName: string;
  scopes: string[];
  mfaSatisfied: boolean;
}

/**
 * Sessions and their refresh-token families: starts a session (access token + opaque refresh
 * token, only the refresh token's keyed hash stored), rotates the refresh token on every use,
 * revokes the whole session when a used refresh token comes back, and ends sessions.
 */
export class SessionManager {
  constructor(private readonly deps: SessionManagerDeps) {}

  /** Creates a session for an active user and returns its first tokens. */
  async start(s: NewSession): Promise<SessionTokens> {
    const now = this.deps.clock.nowMs();
    const refreshToken = newRefreshToken(s.scope.tenantId);
    const record: SessionRecord = {
      tenantId: s.scope.tenantId,
      id: newId(),
      userId: s.user.id,
      deviceId: s.deviceId,
      deviceName: s.deviceName,
      scopes: [...s.scopes],
      mfaSatisfied: s.mfaSatisfied,
      createTimeMs: now,
      lastSeenTimeMs: now,
      expireTimeMs: now + REFRESH_TOKEN_LIFETIME_MS,
    };
    await this.deps.sessions.create(s.scope, record, { hash: this.hash(refreshToken), expireTimeMs: record.expireTimeMs });
    return this.tokensFor(record, s.user, refreshToken);
  }

  /**
   * Exchanges a refresh token for new tokens. UNAUTHENTICATED for a malformed, unknown, expired
   * or revoked token and for a used one, which also revokes its session (theft: someone else
   * holds a copy); PERMISSION_DENIED when the tenant is suspended.
   */
  async refresh(refreshToken: string): Promise<SessionTokens> {
    const refused = (why = "refresh token is not valid") => new UnauthenticatedError(why);
    const tenantId = refreshTokenTenantOf(refreshToken);
    if (!tenantId) throw refused();
    // The tenant inside the token only narrows the lookup: the token counts once its hash is found there.
    const scope = scopeForAdmin(tenantId);
    const now = this.deps.clock.nowMs();
    const hash = this.hash(refreshToken);
    // Checked before the token is used, so a refusal for the tenant or user leaves it usable.
    const found = await this.deps.sessions.findByRefreshHash(scope, hash, now);
    if (!found) throw refused();
    if (found.revokeTimeMs !== undefined) throw refused("the session has ended");
    const tenant = await this.deps.tenants.get(scope);
    if (!tenant) throw refused();
    if (tenant.status !== "active") throw new PermissionDeniedError("the tenant is suspended");
    const user = await this.deps.users.get(scope, found.userId);
    if (!user || user.status !== "active") throw refused("the user cannot sign in");
    const next = newRefreshToken(tenantId);
    const outcome = await this.deps.sessions.rotate(scope, hash, { hash: this.hash(next), expireTimeMs: now + REFRESH_TOKEN_LIFETIME_MS }, now);
    if (outcome.kind === "unknown") throw refused();
    if (outcome.kind === "reused") {
      this.deps.logger.warn({ tenantId, sessionId: outcome.session.id, userId: outcome.session.userId }, "used refresh token presented again: session revoked");
      await this.revoke(scope, outcome.session.id, "refresh-token-reused");
      throw refused("refresh token was already used; the session is revoked");
    }
    const session = outcome.session;
    // Revoked between the check and the rotation: the new token is never handed out.
    if (session.revokeTimeMs !== undefined) throw refused("the session has ended");
    return this.tokensFor(session, user, next);
  }

  /**
   * SignOut without an access token: ends the session of a refresh token of its family (used or
   * not, unexpired). False when no such token exists; idempotent for an ended session.
   */
  async signOutWithRefreshToken(refreshToken: string): Promise<boolean> {
    const tenantId = refreshTokenTenantOf(refreshToken);
    if (!tenantId) return false;
    // As in refresh: the token's tenant narrows the lookup, the hash found there verifies it.
    const scope = scopeForAdmin(tenantId);
    const session = await this.deps.sessions.findByRefreshHash(scope, this.hash(refreshToken), this.deps.clock.nowMs());
    if (!session) return false;
    await this.revoke(scope, session.id, "sign-out");
    return true;
  }

  /**
   * Ends a session; idempotent (the first revoke time and reason stay). The listener hears of
   * every call, so a retried call re-publishes what a failed one may have missed. Undefined for an
   * unknown id.
   */
  async revoke(scope: TenantScope, sessionId: string, reason: SessionRevokeReason): Promise<SessionRecord | undefined> {
    const after = await this.deps.sessions.revoke(scope, sessionId, this.deps.clock.nowMs(), reason);
    if (!after) return undefined;
    this.deps.logger.info({ tenantId: scope.tenantId, sessionId, userId: after.userId, reason: after.revokeReason }, "session revoked");
    await this.deps.onRevoked?.(after);
    return after;
  }

  private hash(token: string): string {
    return hashCredential(this.deps.pepper, token);
  }

  private async tokensFor(session: SessionRecord, user: UserRecord, refreshToken: string): Promise<SessionTokens> {
    const { token, expireTimeMs } = await this.deps.tokens.issue({
      tenantId: session.tenantId,
      userId: user.id,
      sessionId: session.id,
      deviceId: session.deviceId,
      scopes: session.scopes,
      roles: user.roles,
    });
    return create(SessionTokensSchema, {
      sessionId: session.id,
      userId: user.id,
      accessToken: token,
      accessTokenExpireTime: timestampFromMs(expireTimeMs),
      refreshToken,
      refreshTokenExpireTime: timestampFromMs(session.expireTimeMs),
    });
  }
}
