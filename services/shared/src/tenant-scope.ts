const brand: unique symbol = Symbol("TenantScope");

/**
 * The tenant a store or port call acts for. It can only be built from a verified token
 * (`scopeFromVerifiedClaims`), from an event envelope read off the bus (`scopeFromEvent`), or by
 * a platform-admin operation naming a tenant explicitly (`scopeForAdmin`) — never from a request
 * field. Store and port methods take it as their first argument; every index, key, blob path,
 * search document, page token and event carries `tenantId`.
 */
export interface TenantScope {
  readonly tenantId: string;
  readonly [brand]: true;
}

const TENANT_ID = /^[A-Za-z0-9_-]{1,64}$/;

function make(tenantId: string): TenantScope {
  if (!TENANT_ID.test(tenantId)) throw new Error(`invalid tenant id ${JSON.stringify(tenantId)}`);
  return Object.freeze({ tenantId, [brand]: true as const });
}

/** From the claims of an access token that the shared verifier has already checked. */
export function scopeFromVerifiedClaims(claims: { tenant: string }): TenantScope {
  return make(claims.tenant);
}

/** From an event envelope consumed from the bus (the envelope's tenant_id was set by its producer). */
export function scopeFromEvent(envelope: { tenantId: string }): TenantScope {
  return make(envelope.tenantId);
}

/** For platform-admin RPCs (create/suspend a tenant) after the admin credential was verified. */
export function scopeForAdmin(tenantId: string): TenantScope {
  return make(tenantId);
}

/** True for values built by the functions above (a plain `{ tenantId }` object is not a scope). */
export function isTenantScope(v: unknown): v is TenantScope {
  return typeof v === "object" && v !== null && (v as Record<symbol, unknown>)[brand] === true;
}
