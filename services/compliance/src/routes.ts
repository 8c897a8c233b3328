import type { ConnectRouter } from "@connectrpc/connect";
import { AuditService } from "@caas/gen/caas/compliance/v1/audit_service_pb.js";
import { PrivacyService } from "@caas/gen/caas/compliance/v1/privacy_service_pb.js";
import type { AuditServiceImpl } from "./audit-service.js";
import type { PrivacyServiceImpl } from "./privacy-service.js";

/** Registers AuditService and PrivacyService on a router. */
export function registerComplianceRoutes(router: ConnectRouter, impls: { audit: AuditServiceImpl; privacy: PrivacyServiceImpl }): void {
  router.service(AuditService, impls.audit);
  router.service(PrivacyService, impls.privacy);
}
