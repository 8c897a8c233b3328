import type { DeleteTenantDataRequest, DeleteTenantDataResponse } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { PrivacyService } from "@caas/gen/caas/compliance/v1/privacy_service_pb.js";
import { createPeerClient, type PeerDirectory } from "@caas/shared/clients";
import { NotFoundError } from "@caas/shared/errors";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import type { AuthEventPublisher } from "./auth-events.js";
import type { ApiKeyStore } from "./ports/api-key-store.js";
import type { TenantStore } from "./ports/tenant-store.js";
import { removeAccount, type AuthUserDataDeps } from "./user-data.js";

/** API keys revoked per store page. */
const KEY_PAGE = 200;

/**
 * AuthInternalService.DeleteTenantData, for the compliance service's tenant deletion. The tenant
 * is marked DELETED first (credential checks refuse every status but ACTIVE, so its API keys,
 * sign-ins and token refreshes stop at once; TenantSuspended puts it on every verifier's
 * deny-set, so access tokens already issued stop within seconds), then each call removes a page
 * of its users with everything that lets anyone act as them (as erasure does), and once none is
 * left revokes its API keys. Every step is idempotent, so a call repeated after a crash finishes
 * what the previous one began.
 */
export function createTenantDeletionRpc(deps: AuthUserDataDeps & { tenants: TenantStore; apiKeys: ApiKeyStore; events: Pick<AuthEventPublisher, "userDeleted" | "tenantSuspended"> }) {
  return async function deleteTenantData(req: DeleteTenantDataRequest): Promise<Omit<DeleteTenantDataResponse, "$typeName">> {
    const scope = scopeForAdmin(req.tenantId);
    const tenant = await deps.tenants.get(scope);
    if (!tenant) throw new NotFoundError("tenant");
    if (tenant.status !== "deleted") {
      await deps.tenants.update(scope, { status: "deleted" }, deps.clock.nowMs());
      await deps.events.tenantSuspended(scope.tenantId);
      deps.logger.warn({ tenantId: scope.tenantId }, "tenant marked deleted: every credential of it is refused");
    }
    const out = { usersRemoved: 0, sessionsRevoked: 0, apiKeysRevoked: 0, more: false };
    if (req.pageSize === 0) return { ...out, more: true };
    // Removed users leave the list, so every page is the first one.
    const users = await deps.users.list(scope, { limit: req.pageSize });
    for (const u of users) {
      const r = await removeAccount(deps, scope, u.id, "user-deleted");
      out.usersRemoved++;
      out.sessionsRevoked += r.sessionsRevoked;
    }
    if (users.length === req.pageSize) return { ...out, more: true };
    const nowMs = deps.clock.nowMs();
    for (;;) {
      const keys = await deps.apiKeys.list(scope, { includeRevoked: false, nowMs, limit: KEY_PAGE });
      for (const k of keys) if ((await deps.apiKeys.revoke(k.id, nowMs, "earliest"))?.changed) out.apiKeysRevoked++;
      if (keys.length < KEY_PAGE) return out;
    }
  };
}

/**
 * TenantAdminService.DeleteTenant's part: the deletion is compliance's job (it checks legal holds
 * and drives every service), so auth asks PrivacyService.RequestTenantDeletion, forwarding the
 * platform admin's own credential (compliance verifies it with auth, as for any admin call), and
 * returns the job's id. Compliance's errors (FAILED_PRECONDITION under a hold, NOT_FOUND) pass through.
 */
export function createDeletionRequestOverMesh(peers: PeerDirectory): (tenantId: string, reason: string, authorization: string) => Promise<string> {
  const privacy = createPeerClient(PrivacyService, "compliance", peers, { defaultTimeoutMs: 30_000 });
  return async (tenantId, reason, authorization) => (await privacy.requestTenantDeletion({ tenantId, reason }, { headers: { authorization } })).job!.id;
}
