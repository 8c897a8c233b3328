import { InvalidArgumentError } from "@caas/shared/errors";
import { isAction } from "@caas/shared/identity/policy";
import type { TenantSettings } from "@caas/gen/caas/auth/v1/tenant_pb.js";

/**
 * Checks TenantSettings.role_grants beyond protovalidate: every action must name an action of the
 * shared ABAC engine (services/shared/src/authz), and each role appears once.
 */
export function checkRoleGrants(settings: TenantSettings | undefined, field = "tenant.settings.role_grants"): void {
  const grants = settings?.roleGrants ?? [];
  const roles = new Set<string>();
  grants.forEach((g, i) => {
    if (roles.has(g.role)) throw new InvalidArgumentError("role_grants is not valid", [{ field: `${field}[${i}].role`, description: `role ${g.role} is granted twice` }]);
    roles.add(g.role);
    g.actions.forEach((a, j) => {
      if (!isAction(a)) throw new InvalidArgumentError("role_grants is not valid", [{ field: `${field}[${i}].actions[${j}]`, description: `unknown action ${a}` }]);
    });
  });
}
