import type { HandlerContext } from "@connectrpc/connect";
import { AuditActorKind } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import { correlationIdKey, principalKey } from "@caas/shared/context";
import { InvalidArgumentError, PermissionDeniedError, UnauthenticatedError } from "@caas/shared/errors";
import { scopeForAdmin, scopeFromVerifiedClaims, type TenantScope } from "@caas/shared/tenant-scope";
import type { RunActor } from "./retention-sweeper.js";

/** The tenant role that may manage retention and legal holds with a user access token. */
export const RETENTION_ADMIN_ROLE = "admin";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** An INVALID_ARGUMENT naming one field. */
export function invalidField(field: string, description: string): InvalidArgumentError {
  return new InvalidArgumentError(`${field}: ${description}`, [{ field, description }]);
}

/**
 * The tenant a retention or legal-hold call acts for, and who acts (for the audit record): a
 * tenant API key or a tenant admin's access token act for their own tenant (naming another is
 * PERMISSION_DENIED); the platform admin names the tenant.
 */
export function retentionCallerOf(ctx: HandlerContext, tenantId: string): { scope: TenantScope; actor: RunActor; correlationId: string } {
  const p = ctx.values.get(principalKey);
  const correlationId = ctx.values.get(correlationIdKey);
  const own = (tenant: string, actor: RunActor) => {
    if (tenantId && tenantId !== tenant) throw new PermissionDeniedError("a tenant manages its own retention and legal holds only");
    return { scope: scopeFromVerifiedClaims({ tenant }), actor, correlationId };
  };
  switch (p.kind) {
    case "anonymous":
      throw new UnauthenticatedError("a tenant API key, a tenant admin's access token or the platform-admin credential is required");
    case "api-key":
      return own(p.tenantId, { kind: AuditActorKind.API_KEY, id: p.apiKeyId });
    case "user":
      if (p.roles.includes(RETENTION_ADMIN_ROLE)) return own(p.tenantId, { kind: AuditActorKind.USER, id: p.userId });
      throw new PermissionDeniedError("retention and legal holds are for tenant admins");
    case "platform-admin":
      if (!UUID.test(tenantId)) throw invalidField("tenant_id", "the platform admin names the tenant (a lowercase UUID)");
      return { scope: scopeForAdmin(tenantId), actor: { kind: AuditActorKind.PLATFORM_ADMIN, id: "" }, correlationId };
    default:
      throw new PermissionDeniedError("retention is managed with a tenant API key, a tenant admin's access token or the platform-admin credential");
  }
}

/** The audit actor of a verified caller (the service itself for its own work). */
export function principalActor(ctx: HandlerContext): RunActor {
  const p = ctx.values.get(principalKey);
  switch (p.kind) {
    case "api-key":
      return { kind: AuditActorKind.API_KEY, id: p.apiKeyId };
    case "user":
      return { kind: AuditActorKind.USER, id: p.userId };
    case "platform-admin":
      return { kind: AuditActorKind.PLATFORM_ADMIN, id: "" };
    case "service":
      return { kind: AuditActorKind.SERVICE, id: p.service };
    default:
      return { kind: AuditActorKind.UNSPECIFIED, id: "" };
  }
}

/** A conversation id from a request: "" (none) or a lowercase UUID. */
export function optionalConversationId(field: string, id: string): string {
  if (id !== "" && !UUID.test(id)) throw invalidField(field, "must be a lowercase UUID");
  return id;
}
