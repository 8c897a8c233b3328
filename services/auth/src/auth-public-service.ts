import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  AuthService,
  type ListSessionsRequest,
  type RefreshTokenRequest,
  type ConfirmTotpRequest,
  type EnrollTotpRequest,
  type DisableTotpRequest,
  type RevokeSessionRequest,
  type VerifyMfaRequest,
  type SignInRequest,
  type SignOutRequest,
  type SignUpRequest,
} from "@caas/gen/caas/auth/v1/auth_service_pb.js";
import { JwkSchema, JwksSchema, type Jwks } from "@caas/gen/caas/auth/v1/jwk_pb.js";
import { InvalidArgumentError, NotFoundError, PermissionDeniedError, UnauthenticatedError } from "@caas/shared/errors";
import { principalKey } from "@caas/shared/context";
import type { Clock } from "@caas/shared/clock";
import type { JSONWebKeySet } from "jose";
import type { AuthEventPublisher } from "./auth-events.js";
import { sessionToProto, userToProto } from "./domain/mapping.js";
import type { PasswordAccounts } from "./password-accounts.js";
import type { TotpMfa } from "./totp-mfa.js";
import type { UserStore } from "./ports/user-store.js";
import type { Pager } from "./domain/paging.js";
import type { SigningKeyManager } from "./keys/signing-keys.js";
import type { SessionStore } from "./ports/session-store.js";
import { requireUser } from "./principals.js";
import type { SessionManager } from "./sessions.js";

/** A JWK set as the caas.auth.v1.Jwks message (its JSON form is the same document). */
export function jwksToProto(set: JSONWebKeySet): Jwks {
  return create(JwksSchema, {
    keys: set.keys.map((k) =>
      create(JwkSchema, {
        kty: k.kty ?? "",
        kid: k.kid ?? "",
        use: k.use ?? "",
        alg: k.alg ?? "",
        crv: k.crv ?? "",
        x: k.x ?? "",
        y: k.y ?? "",
      }),
    ),
  });
}

/** What AuthService is built from. */
export interface AuthServiceDeps {
  keys: SigningKeyManager;
  sessionManager: SessionManager;
  sessions: SessionStore;
  passwords: PasswordAccounts;
  mfa: TotpMfa;
  users: UserStore;
  pager: Pager;
  clock: Clock;
  /** Publishes the accounts SignUp creates (UserUpserted). */
  events: AuthEventPublisher;
}

const SESSION_CURSOR = /^(\d{1,16}):([0-9a-f-]{36})$/;

/**
 * caas.auth.v1.AuthService. Built: GetJwks (no credential), SignUp and SignIn (password accounts),
 * RefreshToken (the refresh token is the credential), SignOut, ListSessions and RevokeSession (the
 * caller's own sessions), TOTP MFA (EnrollTotp, ConfirmTotp, DisableTotp for the caller's own
 * account; VerifyMfa completes a sign-in with its challenge). Nothing answers UNIMPLEMENTED.
 */
export function createAuthServiceImpl(deps: AuthServiceDeps): ServiceImpl<typeof AuthService> {
  return {
    async getJwks() {
      return { jwks: jwksToProto(await deps.keys.jwks()) };
    },

    async signUp(req: SignUpRequest) {
      const { user, tokens, enrollment } = await deps.passwords.signUp(req);
      await deps.events.userUpserted(userToProto(user), true);
      if (enrollment) {
        return {
          user: userToProto(user),
          mfaEnrollmentRequired: true,
          mfaChallenge: enrollment.mfaChallenge,
          mfaChallengeExpireTime: timestampFromMs(enrollment.expireTimeMs),
        };
      }
      return { user: userToProto(user), tokens };
    },

    async signIn(req: SignInRequest) {
      const outcome = await deps.passwords.signIn(req);
      if ("tokens" in outcome) return { tokens: outcome.tokens };
      return {
        mfaRequired: true,
        mfaChallenge: outcome.mfaChallenge,
        mfaChallengeExpireTime: timestampFromMs(outcome.expireTimeMs),
        mfaEnrollmentRequired: outcome.enrollmentRequired,
      };
    },

    async verifyMfa(req: VerifyMfaRequest) {
      if (req.code.case === undefined) throw new InvalidArgumentError("a code is required", [{ field: "code", description: "missing" }]);
      return { tokens: await deps.mfa.verify(req.mfaChallenge, req.code) };
    },

    async enrollTotp(req: EnrollTotpRequest, ctx: HandlerContext) {
      // An enrollment challenge (MFA-required tenant) stands in for the access token.
      if (req.mfaChallenge !== "") return deps.mfa.enrollWithChallenge(req.mfaChallenge);
      const { scope, user } = requireUser(ctx);
      const record = await deps.users.get(scope, user.userId);
      if (!record) throw new NotFoundError("user");
      return deps.mfa.enroll(scope, record);
    },

    async confirmTotp(req: ConfirmTotpRequest, ctx: HandlerContext) {
      if (req.mfaChallenge !== "") return deps.mfa.confirmWithChallenge(req.mfaChallenge, req.totpCode);
      const { scope, user } = requireUser(ctx);
      return { recoveryCodes: await deps.mfa.confirm(scope, user.userId, req.totpCode) };
    },

    async disableTotp(req: DisableTotpRequest, ctx: HandlerContext) {
      const { scope, user } = requireUser(ctx);
      if (req.code.case === undefined) throw new InvalidArgumentError("a code is required", [{ field: "code", description: "missing" }]);
      await deps.mfa.disable(scope, user.userId, req.code);
      return {};
    },

    async refreshToken(req: RefreshTokenRequest) {
      return { tokens: await deps.sessionManager.refresh(req.refreshToken) };
    },

    async signOut(req: SignOutRequest, ctx: HandlerContext) {
      const p = ctx.values.get(principalKey);
      if (p.kind === "user") {
        const { scope, user } = requireUser(ctx);
        await deps.sessionManager.revoke(scope, user.sessionId, "sign-out");
        return {};
      }
      if (p.kind !== "anonymous") throw new PermissionDeniedError("only a signed-in user may sign out");
      if (req.refreshToken === "") throw new UnauthenticatedError("an access token or a refresh token is required");
      if (!(await deps.sessionManager.signOutWithRefreshToken(req.refreshToken))) throw new UnauthenticatedError("refresh token is not valid");
      return {};
    },

    async listSessions(req: ListSessionsRequest, ctx: HandlerContext) {
      const { scope, user } = requireUser(ctx);
      const binding = { tenantId: scope.tenantId, query: `sessions;user=${user.userId}` };
      const afterKey = deps.pager.after(binding, req.pageToken);
      let after: { lastSeenTimeMs: number; id: string } | undefined;
      if (afterKey !== undefined) {
        const m = SESSION_CURSOR.exec(afterKey);
        if (!m) throw new InvalidArgumentError("page_token is not valid for this query", [{ field: "page_token", description: "malformed" }]);
        after = { lastSeenTimeMs: Number(m[1]), id: m[2]! };
      }
      const nowMs = deps.clock.nowMs();
      const { rows, nextPageToken } = await deps.pager.page(
        binding,
        req.pageSize,
        (limit) => deps.sessions.listActive(scope, { userId: user.userId, nowMs, after, limit }),
        (s) => `${s.lastSeenTimeMs}:${s.id}`,
      );
      return { sessions: rows.map((s) => sessionToProto(s, s.id === user.sessionId)), nextPageToken };
    },

    async revokeSession(req: RevokeSessionRequest, ctx: HandlerContext) {
      const { scope, user } = requireUser(ctx);
      const session = await deps.sessions.get(scope, req.sessionId);
      // Another user's session is as absent as one that does not exist.
      if (!session || session.userId !== user.userId) throw new NotFoundError("session");
      await deps.sessionManager.revoke(scope, session.id, "revoked-by-user");
      return {};
    },
  };
}
