import { createLocalJWKSet, decodeProtectedHeader, errors, jwtVerify, type JSONWebKeySet, type JWTPayload } from "jose";
import type { Clock } from "../clock.js";
import { SERVICE_SUBJECT_PREFIX, SERVICE_TOKEN_TYPE } from "./service-tokens.js";
import { UnauthenticatedError, UnavailableError } from "../errors.js";

/** `iss` of every access token the auth service signs. */
export const ACCESS_TOKEN_ISSUER = "caas-auth";
/** `aud` of user access tokens: the public API of every service. */
export const ACCESS_TOKEN_AUDIENCE = "caas-api";
/** The JWT `typ` header of access tokens (RFC 9068), so no other JWT passes for one. */
export const ACCESS_TOKEN_TYPE = "at+jwt";
/** The signature algorithms verifiers accept (an allow-list: `none` and HMAC never pass). */
export const ACCESS_TOKEN_ALGORITHMS: readonly string[] = ["EdDSA"];
/** Access tokens live at most this long (DESIGN: at most 5 minutes). */
export const ACCESS_TOKEN_MAX_LIFETIME_SEC = 300;
/** Where the auth service serves its public keys over plain HTTP. */
export const JWKS_PATH = "/.well-known/jwks.json";

/** The claims of a verified user access token. */
export interface AccessTokenClaims {
  iss: string;
  aud: string;
  /** The user id (tenant-chosen). */
  sub: string;
  tenant: string;
  /** Session id (UUIDv7). */
  sid: string;
  device: string;
  /** What the token may do; empty means the user's full access. */
  scopes: string[];
  /** The user's roles when the token was issued. */
  roles: string[];
  jti: string;
  iat: number;
  nbf: number;
  exp: number;
}

/** A token that passed every check, with the id of the key that signed it. */
export interface VerifiedAccessToken {
  claims: AccessTokenClaims;
  kid: string;
  /**
   * The last instant (ms) this verifier accepts the token: `exp` plus the clock tolerance. Long
   * sessions (realtime) end here, so a token is good for exactly as long on RPCs and streams.
   */
  acceptedUntilMs: number;
}

/** Supplies the current public keys (e.g. read in-process by the auth service itself). */
export type JwksProvider = () => Promise<JSONWebKeySet>;

/** Where the keys come from and what a token must satisfy. */
export interface JwtVerifierOptions {
  /** The JWKS document's URL, or a function giving it (peers are wired after binding). */
  jwksUrl?: string | (() => string);
  /** Used instead of `jwksUrl`. Exactly one of the two. */
  jwksProvider?: JwksProvider;
  issuer: string;
  audience: string;
  clock: Clock;
  /** Accepted `alg` values; anything else is refused before the signature is looked at. */
  algorithms: readonly string[];
  /** Accepted disagreement between clocks on exp/nbf/iat, seconds. Default 30. */
  clockToleranceSec?: number;
  /** Longest accepted exp - iat, seconds. Default ACCESS_TOKEN_MAX_LIFETIME_SEC. */
  maxLifetimeSec?: number;
  /** Required `typ` header. Default ACCESS_TOKEN_TYPE. */
  type?: string;
  /** An unknown kid refetches the keys at most this often (ms, injected clock). Default 10 s. */
  refetchCooldownMs?: number;
  /** The keys are refetched on use once they are this old (ms). Default 5 min. */
  maxAgeMs?: number;
  /** Timeout of one JWKS fetch over HTTP (ms). Default 5 s. */
  fetchTimeoutMs?: number;
  /**
   * Tokens whose signature was verified are remembered (at most this many, least recently used
   * out first) so the same token is not verified again on every call; 0 turns this off.
   * Default 4,096.
   */
  verifiedCacheSize?: number;
}

/** Checks access tokens locally against the auth service's published keys. */
export interface JwtVerifier {
  /**
   * The verified claims, or UnauthenticatedError (bad signature, wrong alg/typ/iss/aud, expired,
   * not yet valid, unknown kid, malformed). UnavailableError when no keys could ever be fetched.
   */
  verify(token: string): Promise<VerifiedAccessToken>;
  /**
   * Checks a service token (typ svc+jwt, same keys, issuer and lifetime rules) addressed to
   * `audience`; returns the calling service's name. UnauthenticatedError otherwise.
   */
  verifyServiceToken(token: string, audience: string): Promise<{ service: string }>;
}

const SERVICE_NAME = /^[a-z][a-z0-9-]{0,62}$/;

interface CachedKeys {
  kids: Set<string>;
  resolve: ReturnType<typeof createLocalJWKSet>;
  fetchedAtMs: number;
}

/**
 * The one access-token verifier every service uses (jose). Keys come from the JWKS (an HTTP URL,
 * or an in-process provider for the auth service itself), are cached, refetched when a token
 * names a kid the cache lacks (at most once per cooldown, so garbage kids cannot hammer auth)
 * and when the cache is older than `maxAgeMs`, which also drops retired keys. All time checks
 * use the injected clock.
 */
export function createJwtVerifier(opts: JwtVerifierOptions): JwtVerifier {
  if ((opts.jwksUrl === undefined) === (opts.jwksProvider === undefined)) {
    throw new TypeError("give exactly one of jwksUrl and jwksProvider");
  }
  if (opts.algorithms.length === 0 || opts.algorithms.some((a) => a === "none" || a.startsWith("HS"))) {
    throw new TypeError("algorithms must list asymmetric signature algorithms only");
  }
  const { clock } = opts;
  const tolerance = opts.clockToleranceSec ?? 30;
  const maxLifetime = opts.maxLifetimeSec ?? ACCESS_TOKEN_MAX_LIFETIME_SEC;
  const typ = opts.type ?? ACCESS_TOKEN_TYPE;
  const cooldownMs = opts.refetchCooldownMs ?? 10_000;
  const maxAgeMs = opts.maxAgeMs ?? 300_000;
  const fetchTimeoutMs = opts.fetchTimeoutMs ?? 5_000;
  const provider: JwksProvider = opts.jwksProvider ?? (() => fetchJwks(typeof opts.jwksUrl === "function" ? opts.jwksUrl() : opts.jwksUrl!, fetchTimeoutMs));

  const verifiedCacheSize = opts.verifiedCacheSize ?? 4_096;
  /** `typ|aud|token` -> what verifying it gave; only tokens that passed every check. */
  const verified = new Map<string, { payload: JWTPayload; kid: string }>();

  let cache: CachedKeys | undefined;
  let lastFetchMs = Number.NEGATIVE_INFINITY;
  let inflight: Promise<void> | undefined;

  function refresh(): Promise<void> {
    inflight ??= (async () => {
      lastFetchMs = clock.nowMs();
      try {
        const jwks = await provider();
        cache = {
          kids: new Set(jwks.keys.map((k) => k.kid).filter((k): k is string => typeof k === "string")),
          resolve: createLocalJWKSet(jwks),
          fetchedAtMs: clock.nowMs(),
        };
      } catch (err) {
        // Keep serving from the old keys; without any, no token can be checked.
        if (!cache) throw new UnavailableError(`cannot fetch the token signing keys: ${(err as Error).message}`);
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  }

  async function keysFor(kid: string): Promise<CachedKeys> {
    const now = clock.nowMs();
    if (!cache || now - cache.fetchedAtMs >= maxAgeMs) await refresh();
    else if (!cache.kids.has(kid) && now - lastFetchMs >= cooldownMs) await refresh();
    return cache!;
  }

  /**
   * A token verified before, if its key is still in the key set and its times still hold (the
   * signature, issuer, audience, alg and typ cannot have changed: the entry is for these exact
   * bytes and this typ and audience). Time moves, so exp, nbf and the age limit are checked again
   * with the injected clock and the same tolerance as jose's.
   */
  function remembered(key: string): { payload: JWTPayload; kid: string } | undefined {
    const hit = verified.get(key);
    if (!hit) return undefined;
    const now = Math.floor(clock.nowMs() / 1000);
    const { exp, nbf, iat } = hit.payload as { exp: number; nbf: number; iat: number };
    const fresh = now < exp + tolerance && now >= nbf - tolerance && now - iat <= maxLifetime + tolerance;
    if (!fresh || !cache || !cache.kids.has(hit.kid) || clock.nowMs() - cache.fetchedAtMs >= maxAgeMs) {
      verified.delete(key); // verified again from scratch (which also refreshes old keys)
      return undefined;
    }
    verified.delete(key);
    verified.set(key, hit); // most recently used last
    return hit;
  }

  function remember(key: string, result: { payload: JWTPayload; kid: string }): void {
    if (verifiedCacheSize <= 0) return;
    verified.set(key, result);
    if (verified.size > verifiedCacheSize) verified.delete(verified.keys().next().value!);
  }

  /** Header, key and signature checks shared by both token kinds; the payload, once verified. */
  async function verifyJwt(token: string, wantTyp: string, audience: string): Promise<{ payload: JWTPayload; kid: string }> {
    const cacheKey = `${wantTyp}|${audience}|${token}`;
    const hit = remembered(cacheKey);
    if (hit) return hit;
    const result = await verifyJwtFully(token, wantTyp, audience);
    remember(cacheKey, result);
    return result;
  }

  async function verifyJwtFully(token: string, wantTyp: string, audience: string): Promise<{ payload: JWTPayload; kid: string }> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new UnauthenticatedError("access token is malformed");
    }
    if (typeof header.alg !== "string" || !opts.algorithms.includes(header.alg)) {
      throw new UnauthenticatedError("access token algorithm is not accepted");
    }
    if (header.typ !== wantTyp) throw new UnauthenticatedError(wantTyp === typ ? "token is not an access token" : "token is not a service token");
    if (typeof header.kid !== "string" || header.kid === "") throw new UnauthenticatedError("access token has no key id");
    const keys = await keysFor(header.kid);
    if (!keys.kids.has(header.kid)) throw new UnauthenticatedError("access token signing key is unknown");
    try {
      const { payload } = await jwtVerify(token, keys.resolve, {
        issuer: opts.issuer,
        audience,
        algorithms: [...opts.algorithms],
        typ: wantTyp,
        currentDate: clock.now(),
        clockTolerance: tolerance,
        maxTokenAge: maxLifetime + tolerance,
        requiredClaims: ["exp", "nbf", "iat", "sub", "jti"],
      });
      if (payload.exp! - payload.iat! > maxLifetime) throw new UnauthenticatedError("access token lifetime is too long");
      return { payload, kid: header.kid };
    } catch (err) {
      if (err instanceof UnauthenticatedError) throw err;
      throw new UnauthenticatedError(describe(err));
    }
  }

  return {
    async verify(token) {
      const { payload, kid } = await verifyJwt(token, typ, opts.audience);
      const claims = checkClaims(payload, maxLifetime);
      return { claims, kid, acceptedUntilMs: (claims.exp + tolerance) * 1000 };
    },

    async verifyServiceToken(token, audience) {
      const { payload } = await verifyJwt(token, SERVICE_TOKEN_TYPE, audience);
      const service = typeof payload.sub === "string" && payload.sub.startsWith(SERVICE_SUBJECT_PREFIX) ? payload.sub.slice(SERVICE_SUBJECT_PREFIX.length) : "";
      if (!SERVICE_NAME.test(service)) throw new UnauthenticatedError("service token has a malformed subject");
      return { service };
    },
  };
}

/** A short, secret-free reason for the caller. */
function describe(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "access token has expired";
  if (err instanceof errors.JWTClaimValidationFailed) return `access token rejected: ${err.claim} claim check failed`;
  if (err instanceof errors.JWSSignatureVerificationFailed) return "access token signature is not valid";
  return "access token is not valid";
}

function checkClaims(p: JWTPayload, maxLifetime: number): AccessTokenClaims {
  const str = (v: unknown) => typeof v === "string" && v.length > 0 && v.length <= 256;
  const strings = (v: unknown) => Array.isArray(v) && v.length <= 64 && v.every((s) => typeof s === "string" && s.length <= 64);
  const aud = Array.isArray(p.aud) ? p.aud[0] : p.aud;
  if (!str(p.sub) || !str(p.tenant) || !str(p.sid) || !str(p.device) || !str(p.jti) || !str(aud)) {
    throw new UnauthenticatedError("access token lacks required claims");
  }
  if (!strings(p.scopes) || !strings(p.roles)) throw new UnauthenticatedError("access token has malformed claims");
  if (p.exp! - p.iat! > maxLifetime) throw new UnauthenticatedError("access token lifetime is too long");
  return {
    iss: p.iss!,
    aud: aud!,
    sub: p.sub!,
    tenant: p.tenant as string,
    sid: p.sid as string,
    device: p.device as string,
    scopes: p.scopes as string[],
    roles: p.roles as string[],
    jti: p.jti!,
    iat: p.iat!,
    nbf: p.nbf!,
    exp: p.exp!,
  };
}

async function fetchJwks(url: string, timeoutMs: number): Promise<JSONWebKeySet> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: "application/json" } });
  if (!res.ok) throw new Error(`GET ${url} answered ${res.status}`);
  const body: unknown = await res.json();
  if (typeof body !== "object" || body === null || !Array.isArray((body as JSONWebKeySet).keys)) {
    throw new Error(`GET ${url} did not return a JWK set`);
  }
  return body as JSONWebKeySet;
}
