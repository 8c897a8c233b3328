import { looksLikeJwt, type CredentialHandler } from "@caas/shared/identity/principal-resolver";
import { PermissionDeniedError, UnauthenticatedError } from "@caas/shared/errors";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import type { Clock } from "@caas/shared/clock";
import type { Logger } from "@caas/shared/logger";
import type { Principal } from "@caas/shared/context";
import { API_KEY_PREFIX, apiKeyIdOf, hashCredential, sameHash } from "./domain/secrets.js";
import type { ApiKeyRecord, ApiKeyStore } from "./ports/api-key-store.js";
import type { TenantStore } from "./ports/tenant-store.js";

/** last_used_time is written at most this often per key. */
const TOUCH_INTERVAL_MS = 60_000;

/** What the API-key check reads: the stores of record, the pepper and the clock. */
export interface ApiKeyCredentialOptions {
  apiKeys: ApiKeyStore;
  tenants: TenantStore;
  pepper: Buffer;
  clock: Clock;
  logger: Logger;
}

/**
 * Tenant API keys (`Bearer caas_k_…`), checked against the store of record on every call, so a
 * revoked key or a suspended tenant stops working at once. Unknown, wrong and revoked keys are
 * UNAUTHENTICATED with one message; a suspended tenant's key is PERMISSION_DENIED.
 */
export function createApiKeyCredentialHandler(opts: ApiKeyCredentialOptions): CredentialHandler {
  const check = createApiKeyCheck(opts);
  return {
    accepts: (credential) => credential.startsWith(API_KEY_PREFIX),
    async resolve(credential): Promise<Principal> {
      const key = await check(credential);
      return { kind: "api-key", tenantId: key.tenantId, apiKeyId: key.id };
    },
  };
}

/**
 * The API-key check itself (the credential handler above and AuthInternalService.VerifyApiKey):
 * the key's record, or UNAUTHENTICATED (unknown, wrong, revoked) / PERMISSION_DENIED (suspended tenant).
 */
export function createApiKeyCheck(opts: ApiKeyCredentialOptions): (secret: string) => Promise<ApiKeyRecord> {
  const refused = () => new UnauthenticatedError("API key is not valid");
  return async (credential) => {
    const id = apiKeyIdOf(credential);
    if (!id) throw refused();
    const key = await opts.apiKeys.get(id);
    if (!key || !sameHash(key.secretHash, hashCredential(opts.pepper, credential))) throw refused();
    const now = opts.clock.nowMs();
    if (key.revokeTimeMs !== undefined && key.revokeTimeMs <= now) throw refused();
    // The key's tenant comes from the record whose hash matched, never from the request.
    const tenant = await opts.tenants.get(scopeForAdmin(key.tenantId));
    if (!tenant) throw refused();
    if (tenant.status !== "active") throw new PermissionDeniedError("the tenant is suspended");
    opts.apiKeys.touch(key.id, now, TOUCH_INTERVAL_MS).catch((err: unknown) => opts.logger.warn({ err, apiKeyId: key.id }, "could not record API key use"));
    return key;
  };
}

/**
 * The platform-admin credential: any bearer credential that is neither an access token nor an
 * API key is compared (HMAC, constant time) with the one admin credential hash.
 */
export function createAdminCredentialHandler(opts: { hash: string; pepper: Buffer }): CredentialHandler {
  return {
    accepts: (credential) => !credential.startsWith(API_KEY_PREFIX) && !looksLikeJwt(credential),
    async resolve(credential): Promise<Principal> {
      if (!sameHash(opts.hash, hashCredential(opts.pepper, credential))) throw new UnauthenticatedError("credential is not valid");
      return { kind: "platform-admin" };
    },
  };
}
