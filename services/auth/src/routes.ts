import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { AuthInternalService } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { AuthService } from "@caas/gen/caas/auth/v1/auth_service_pb.js";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";

/** The implementations of the auth service's four APIs. */
export interface AuthRouteImpls {
  tenantAdmin: ServiceImpl<typeof TenantAdminService>;
  userAdmin: ServiceImpl<typeof UserAdminService>;
  auth: ServiceImpl<typeof AuthService>;
  internal: ServiceImpl<typeof AuthInternalService>;
}

/** The generated services the auth service serves, in the order it registers them. */
export const AUTH_SERVICES = [TenantAdminService, UserAdminService, AuthService, AuthInternalService];

/** Registers TenantAdminService, UserAdminService, AuthService and AuthInternalService. */
export function registerAuthRoutes(router: ConnectRouter, impls: AuthRouteImpls): void {
  router.service(TenantAdminService, impls.tenantAdmin);
  router.service(UserAdminService, impls.userAdmin);
  router.service(AuthService, impls.auth);
  router.service(AuthInternalService, impls.internal);
}
