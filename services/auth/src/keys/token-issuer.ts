import { SignJWT } from "jose";
import { ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_ISSUER, ACCESS_TOKEN_MAX_LIFETIME_SEC, ACCESS_TOKEN_TYPE } from "@caas/shared/identity/jwt-verifier";
import { newId } from "@caas/shared/ids";
import { SERVICE_SUBJECT_PREFIX, SERVICE_TOKEN_TYPE } from "@caas/shared/identity/service-tokens";
import type { Clock } from "@caas/shared/clock";
import { SIGNING_ALG, type SigningKeyManager } from "./signing-keys.js";

/** Who a token is for. */
export interface TokenSubject {
  tenantId: string;
  userId: string;
  sessionId: string;
  deviceId: string;
  scopes: string[];
  roles: string[];
}

/** A signed access token and when it expires. */
export interface IssuedToken {
  token: string;
  expireTimeMs: number;
}

/**
 * Signs user access tokens: JWT, EdDSA, header kid and typ "at+jwt"; claims iss, aud, sub (user),
 * tenant, sid, device, scopes, roles, jti, iat, nbf = iat, exp = iat + lifetime (at most 5 min),
 * all from the injected clock. The shared verifier (services/shared/src/auth) checks each of them.
 */
export class AccessTokenIssuer {
  private readonly lifetimeSec: number;

  constructor(private readonly opts: { keys: SigningKeyManager; clock: Clock; lifetimeSec?: number }) {
    this.lifetimeSec = Math.min(opts.lifetimeSec ?? ACCESS_TOKEN_MAX_LIFETIME_SEC, ACCESS_TOKEN_MAX_LIFETIME_SEC);
  }

  async issue(s: TokenSubject): Promise<IssuedToken> {
    const signer = await this.opts.keys.signer();
    const iat = Math.floor(this.opts.clock.nowMs() / 1000);
    const exp = iat + this.lifetimeSec;
    const token = await new SignJWT({ tenant: s.tenantId, sid: s.sessionId, device: s.deviceId, scopes: s.scopes, roles: s.roles })
      .setProtectedHeader({ alg: SIGNING_ALG, kid: signer.kid, typ: ACCESS_TOKEN_TYPE })
      .setIssuer(ACCESS_TOKEN_ISSUER)
      .setAudience(ACCESS_TOKEN_AUDIENCE)
      .setSubject(s.userId)
      .setJti(newId())
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(exp)
      .sign(signer.key);
    return { token, expireTimeMs: exp * 1000 };
  }

  /**
   * Signs a service token: typ "svc+jwt", iss, sub `svc:<service>`, aud the target service,
   * jti, iat, nbf = iat, exp = iat + lifetime; no tenant, session or roles.
   */
  async issueService(service: string, audience: string): Promise<IssuedToken> {
    const signer = await this.opts.keys.signer();
    const iat = Math.floor(this.opts.clock.nowMs() / 1000);
    const exp = iat + this.lifetimeSec;
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: SIGNING_ALG, kid: signer.kid, typ: SERVICE_TOKEN_TYPE })
      .setIssuer(ACCESS_TOKEN_ISSUER)
      .setAudience(audience)
      .setSubject(`${SERVICE_SUBJECT_PREFIX}${service}`)
      .setJti(newId())
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(exp)
      .sign(signer.key);
    return { token, expireTimeMs: exp * 1000 };
  }
}
