import type { ConnectRouter } from "@connectrpc/connect";
import { AuditService } from "@caas/gen/caas/compliance/v1/audit_service_pb.js";
import { PrivacyService } from "@caas/gen/caas/compliance/v1/privacy_service_pb.js";
import { RetentionService } from "@caas/gen/caas/compliance/v1/retention_service_pb.js";
import type { AuditServiceImpl } from "./audit-service.js";
import type { PrivacyServiceImpl } from "./privacy-service.js";
import type { RetentionServiceImpl } from "./retention-service.js";

/** Registers AuditService, PrivacyService and RetentionService on a router. */
export function registerComplianceRoutes(router: ConnectRouter, impls: { audit: AuditServiceImpl; privacy: PrivacyServiceImpl; retention: RetentionServiceImpl }): void {
  router.service(AuditService, impls.audit);
  router.service(PrivacyService, impls.privacy);
  router.service(RetentionService, impls.retention);
}
