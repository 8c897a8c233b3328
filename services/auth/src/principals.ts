import type { HandlerContext } from "@connectrpc/connect";
import { PermissionDeniedError, UnauthenticatedError } from "@caas/shared/errors";
import { principalKey, type Principal } from "@caas/shared/context";
import { tenantScopeOf } from "@caas/shared/identity/principal-resolver";
import type { TenantScope } from "@caas/shared/tenant-scope";

/** Refuses every caller but the platform admin (TenantAdminService). */
export function requireAdmin(ctx: HandlerContext): void {
  const p = ctx.values.get(principalKey);
  if (p.kind === "platform-admin") return;
  if (p.kind === "anonymous") throw new UnauthenticatedError("the platform-admin credential is required (Authorization: Bearer <admin credential>)");
  throw new PermissionDeniedError("only the platform admin may call this");
}

/**
 * The tenant of the calling API key (UserAdminService): built from the verified key, never from
 * a request field. Other callers are refused.
 */
export function requireApiKey(ctx: HandlerContext): { scope: TenantScope; apiKeyId: string } {
  const p = ctx.values.get(principalKey);
  if (p.kind === "api-key") return { scope: tenantScopeOf(p), apiKeyId: p.apiKeyId };
  if (p.kind === "anonymous") throw new UnauthenticatedError("a tenant API key is required (Authorization: Bearer <API key secret>)");
  throw new PermissionDeniedError("only a tenant API key may call this");
}

/** A signed-in user (access token) of AuthService's own-account RPCs, with its tenant scope. */
export function requireUser(ctx: HandlerContext): { scope: TenantScope; user: Extract<Principal, { kind: "user" }> } {
  const p = ctx.values.get(principalKey);
  if (p.kind === "user") return { scope: tenantScopeOf(p), user: p };
  if (p.kind === "anonymous") throw new UnauthenticatedError("an access token is required (Authorization: Bearer <access token>)");
  throw new PermissionDeniedError("only a signed-in user may call this");
}
