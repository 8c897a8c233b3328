import { AuthInternalService } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { AuthService } from "@caas/gen/caas/auth/v1/auth_service_pb.js";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { notBuiltYet, type ServiceContext, type ServiceDefinition } from "@caas/shared";

const ISSUE = "issue #4, Identity and access";

/**
 * The auth service owns tenants, API keys, users, sessions, JWT issuance and JWKS, refresh
 * rotation, MFA and service tokens. Its contracts are final for v1; the implementations come with
 * the Identity issue, so every RPC answers UNIMPLEMENTED naming it (after input validation).
 */
export function createAuthService(_ctx: ServiceContext): ServiceDefinition {
  const services = [TenantAdminService, UserAdminService, AuthService, AuthInternalService];
  return {
    name: "auth",
    services,
    register(router) {
      router.service(TenantAdminService, notBuiltYet(TenantAdminService, ISSUE));
      router.service(UserAdminService, notBuiltYet(UserAdminService, ISSUE));
      router.service(AuthService, notBuiltYet(AuthService, ISSUE));
      router.service(AuthInternalService, notBuiltYet(AuthInternalService, ISSUE));
    },
  };
}
