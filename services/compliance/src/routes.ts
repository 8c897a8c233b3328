import type { ConnectRouter } from "@connectrpc/connect";
import { AuditService } from "@caas/gen/caas/compliance/v1/audit_service_pb.js";
import type { AuditServiceImpl } from "./audit-service.js";

/** Registers AuditService on a router. */
export function registerComplianceRoutes(router: ConnectRouter, impls: { audit: AuditServiceImpl }): void {
  router.service(AuditService, impls.audit);
}
