import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/*
 * Formats and hashing of the credentials the auth service hands out. Pure functions (crypto only).
 *
 * Hashing: HMAC-SHA256 under a server pepper (from the auth keyring), not a password hash. Both
 * credentials carry 256 random bits, so a slow hash would add nothing against guessing, while a
 * fast keyed hash keeps the per-call check cheap (every API-key call checks the store of record)
 * and makes a leaked table useless without the pepper.
 */

/** Starts every tenant API key secret. */
export const API_KEY_PREFIX = "caas_k_";
/** Starts the generated platform-admin credential. */
export const ADMIN_CREDENTIAL_PREFIX = "caas_admin_";
/** Starts every refresh token. */
export const REFRESH_TOKEN_PREFIX = "caas_r_";
/** Characters of a secret shown as ApiKey.prefix ("caas_k_" + 8). */
const SHOWN = API_KEY_PREFIX.length + 8;

const RANDOM_BYTES = 32;
const ID_BYTES = 16;
const API_KEY_BODY = /^[A-Za-z0-9_-]{64}$/;

/**
 * A new API key secret for the key `keyId` (a UUID): `caas_k_` + base64url(32 random bytes ‖ the
 * key id's 16 bytes). The random part comes first so that the shown prefix tells keys apart; the
 * id lets the check find the key's record without an index on the hash.
 */
export function newApiKeySecret(keyId: string): { secret: string; prefix: string } {
  const body = Buffer.concat([randomBytes(RANDOM_BYTES), uuidBytes(keyId)]).toString("base64url");
  const secret = `${API_KEY_PREFIX}${body}`;
  return { secret, prefix: secret.slice(0, SHOWN) };
}

/** The key id inside an API key secret, or undefined when it is not shaped like one. */
export function apiKeyIdOf(secret: string): string | undefined {
  if (!secret.startsWith(API_KEY_PREFIX)) return undefined;
  const body = secret.slice(API_KEY_PREFIX.length);
  if (!API_KEY_BODY.test(body)) return undefined;
  const bytes = Buffer.from(body, "base64url");
  if (bytes.length !== RANDOM_BYTES + ID_BYTES) return undefined;
  return uuidString(bytes.subarray(RANDOM_BYTES));
}

/** A new platform-admin credential: `caas_admin_` + base64url(32 random bytes). */
export function newAdminCredential(): string {
  return `${ADMIN_CREDENTIAL_PREFIX}${randomBytes(RANDOM_BYTES).toString("base64url")}`;
}

/**
 * A new refresh token of a session of tenant `tenantId` (a UUID): `caas_r_` + base64url(the
 * tenant id's 16 bytes ‖ 32 random bytes). The tenant lets the check look the token's hash up
 * within that tenant; the random part is the secret.
 */
export function newRefreshToken(tenantId: string): string {
  return `${REFRESH_TOKEN_PREFIX}${Buffer.concat([uuidBytes(tenantId), randomBytes(RANDOM_BYTES)]).toString("base64url")}`;
}

/** The tenant id inside a refresh token, or undefined when it is not shaped like one. */
export function refreshTokenTenantOf(token: string): string | undefined {
  if (!token.startsWith(REFRESH_TOKEN_PREFIX)) return undefined;
  const body = token.slice(REFRESH_TOKEN_PREFIX.length);
  if (!API_KEY_BODY.test(body)) return undefined;
  const bytes = Buffer.from(body, "base64url");
  if (bytes.length !== ID_BYTES + RANDOM_BYTES) return undefined;
  return uuidString(bytes.subarray(0, ID_BYTES));
}

/** HMAC-SHA256 of a credential under `pepper`, base64url. */
export function hashCredential(pepper: Buffer, credential: string): string {
  return createHmac("sha256", pepper).update(credential, "utf8").digest("base64url");
}

/** Compares two hashes from `hashCredential` in constant time. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, "base64url");
  const y = Buffer.from(b, "base64url");
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

function uuidString(bytes: Buffer): string {
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function uuidBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, "");
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new RangeError(`not a UUID: ${uuid}`);
  return Buffer.from(hex, "hex");
}
