import { decodeProtectedHeader } from "jose";
import type { Principal } from "../context.js";
import { PermissionDeniedError, UnauthenticatedError } from "../errors.js";
import type { PrincipalResolver } from "../interceptors/principal.js";
import { scopeFromVerifiedClaims, type TenantScope } from "../tenant-scope.js";
import type { JwtVerifier } from "./jwt-verifier.js";
import type { RevocationChecker } from "./revocations.js";
import { SERVICE_TOKEN_TYPE } from "./service-tokens.js";

/**
 * A credential other than an access token that one service understands (the auth service: tenant
 * API keys and the platform-admin credential). Handlers are asked in order, before the JWT path.
 */
export interface CredentialHandler {
  /** True when this handler owns the credential; it must then accept or refuse it. */
  accepts(credential: string): boolean;
  /** The caller, or UnauthenticatedError / PermissionDeniedError. */
  resolve(credential: string): Promise<Principal>;
}

/** The access-token verifier and the extra credentials a service accepts. */
export interface PrincipalResolverOptions {
  verifier: JwtVerifier;
  credentials?: CredentialHandler[];
  /** The deny-set: a verified token it denies is refused as revoked. */
  revocations?: RevocationChecker;
  /**
   * This service's name: service tokens (typ svc+jwt) addressed to it give a `service`
   * principal. Without it every service token is refused.
   */
  serviceAudience?: string;
}

const BEARER = /^Bearer +([\x21-\x7e]{1,4096})$/i;
const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;
const TENANT_CLAIM = /^[A-Za-z0-9_-]{1,64}$/;

/** True for a string shaped like a compact JWS (three base64url segments). */
export function looksLikeJwt(credential: string): boolean {
  return JWS_COMPACT.test(credential);
}

/**
 * The PrincipalResolver of every service: `Authorization: Bearer <credential>`. No header means
 * anonymous; a header that is malformed, names a credential this service does not accept, or
 * fails verification is UNAUTHENTICATED, and so is a valid access token the deny-set holds as
 * revoked. Access tokens are verified locally with the shared verifier; nothing in a request other than a verified credential ever becomes identity.
 */
export function createPrincipalResolver(opts: PrincipalResolverOptions): PrincipalResolver {
  const handlers = opts.credentials ?? [];
  return {
    async resolve(headers: Headers): Promise<Principal> {
      const raw = headers.get("authorization");
      if (raw === null || raw.trim() === "") return { kind: "anonymous" };
      const m = BEARER.exec(raw.trim());
      if (!m) throw new UnauthenticatedError("the Authorization header must be `Bearer <credential>`");
      const credential = m[1]!;
      const handler = handlers.find((h) => h.accepts(credential));
      if (handler) return handler.resolve(credential);
      if (!looksLikeJwt(credential)) throw new UnauthenticatedError("access token is malformed");
      if (isServiceToken(credential)) {
        if (!opts.serviceAudience) throw new UnauthenticatedError("this service does not accept service tokens");
        const { service } = await opts.verifier.verifyServiceToken(credential, opts.serviceAudience);
        return { kind: "service", service };
      }
      const { claims, kid } = await opts.verifier.verify(credential);
      if (!TENANT_CLAIM.test(claims.tenant)) throw new UnauthenticatedError("access token has a malformed tenant claim");
      if (opts.revocations?.denies({ tenantId: claims.tenant, userId: claims.sub, sessionId: claims.sid, kid, issuedAtSec: claims.iat })) {
        throw new UnauthenticatedError("access token has been revoked");
      }
      return {
        kind: "user",
        tenantId: claims.tenant,
        userId: claims.sub,
        sessionId: claims.sid,
        deviceId: claims.device,
        scopes: claims.scopes,
        roles: claims.roles,
      };
    },
  };
}

function isServiceToken(credential: string): boolean {
  try {
    return decodeProtectedHeader(credential).typ === SERVICE_TOKEN_TYPE;
  } catch {
    return false;
  }
}

/**
 * The tenant a tenant-bound caller (a user token or an API key) acts for, built from its verified
 * credential. Anonymous callers get UNAUTHENTICATED, others (platform admin, services)
 * PERMISSION_DENIED: they must name a tenant through an admin or internal RPC instead.
 */
export function tenantScopeOf(principal: Principal): TenantScope {
  switch (principal.kind) {
    case "user":
    case "api-key":
      return scopeFromVerifiedClaims({ tenant: principal.tenantId });
    case "anonymous":
      throw new UnauthenticatedError("a credential is required");
    default:
      throw new PermissionDeniedError("this caller does not act for a tenant");
  }
}
