import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { CloseCode, type ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { UnauthenticatedError, UnavailableError } from "@caas/shared/errors";
import type { JwtVerifier } from "@caas/shared/identity/jwt-verifier";
import type { RevocationChecker } from "@caas/shared/identity/revocations";
import { errorFrame, failure, serverFrame } from "./frames.js";
import type { SessionLimits } from "./session-types.js";

/** The verified identity of an authenticated session. */
export interface SessionIdentity {
  tenantId: string;
  userId: string;
  sessionId: string;
  accessToken: string;
  expireMs: number;
  /** When the session ends as TOKEN_EXPIRED: the token's exp plus the verifier's clock tolerance (the RPC rule). */
  acceptedUntilMs: number;
  /** The token's signing key id and `iat` (seconds): what the revocation deny-set matches. */
  kid: string;
  issuedAtSec: number;
}

/** A token check: the identity, or the FrameError to answer and the close that follows it. */
export type TokenCheck = { ok: true; identity: SessionIdentity } | { ok: false; error: ServerFrame; close: CloseCode; reason: string };

/**
 * Verifies an access token (Auth and ReAuth frames) and consults the deny-set. Refusals carry
 * the FrameError (reply_to `replyTo`) and the close code frame.proto names: REVOKED for a revoked
 * token, TOKEN_EXPIRED for an expired one, INTERNAL_ERROR when no keys could be fetched,
 * AUTH_FAILED otherwise.
 */
export async function checkToken(verifier: JwtVerifier, revocations: RevocationChecker | undefined, accessToken: string, replyTo: bigint): Promise<TokenCheck> {
  try {
    const { claims, kid, acceptedUntilMs } = await verifier.verify(accessToken);
    const identity: SessionIdentity = {
      tenantId: claims.tenant,
      userId: claims.sub,
      sessionId: claims.sid,
      accessToken,
      expireMs: claims.exp * 1000,
      acceptedUntilMs,
      kid,
      issuedAtSec: claims.iat,
    };
    if (revocations?.denies(identity)) {
      return { ok: false, error: failure(replyTo, Code.Unauthenticated, "access token has been revoked"), close: CloseCode.REVOKED, reason: "the session was revoked" };
    }
    return { ok: true, identity };
  } catch (err) {
    const error = errorFrame(replyTo, err);
    if (err instanceof UnavailableError) return { ok: false, error, close: CloseCode.INTERNAL_ERROR, reason: "token keys are unavailable; retry" };
    if (err instanceof UnauthenticatedError && /expired|"exp"/i.test(err.message)) return { ok: false, error, close: CloseCode.TOKEN_EXPIRED, reason: "the access token expired" };
    return { ok: false, error, close: CloseCode.AUTH_FAILED, reason: "the access token was refused" };
  }
}

/** AuthOk for `identity` on connection `connectionId` (reply_to `replyTo`). */
export function authOkFrame(replyTo: bigint, identity: SessionIdentity, connectionId: string, limits: Pick<SessionLimits, "heartbeatMs" | "maxFrameBytes">): ServerFrame {
  return serverFrame(replyTo, {
    case: "authOk",
    value: {
      userId: identity.userId,
      sessionId: identity.sessionId,
      connectionId,
      expireTime: timestampFromMs(identity.expireMs),
      heartbeatInterval: durationFromMs(limits.heartbeatMs),
      maxFrameBytes: limits.maxFrameBytes,
    },
  });
}
