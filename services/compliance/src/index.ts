import { hkdfSync } from "node:crypto";
import { AuditService } from "@caas/gen/caas/compliance/v1/audit_service_pb.js";
import { PrivacyService } from "@caas/gen/caas/compliance/v1/privacy_service_pb.js";
import { createMeshJwtVerifier } from "@caas/shared/identity/mesh-resolver";
import { createPrincipalResolver } from "@caas/shared/identity/principal-resolver";
import { PageTokenCodec } from "@caas/shared/page-token";
import type { ServiceContext } from "@caas/shared/service-runtime";
import type { ServiceDefinition } from "@caas/shared/server/service-host";
import { createCredentialsOverMesh } from "./mesh-credentials.js";
import { AuditAppender } from "./audit-appender.js";
import { auditKeyKek, AuditKeyManager } from "./audit-keys.js";
import { AuditRecorder } from "./audit-recorder.js";
import { AuditServiceImpl } from "./audit-service.js";
import { createAuditExportPart } from "./audit-user-export.js";
import { ExportSteps } from "./export-job.js";
import { complianceBackendOf, openAuditStoreForConfig, openPrivacyJobStore } from "./audit-stores.js";
import { PrivacyJobRunner } from "./privacy-jobs.js";
import { PrivacyServiceImpl } from "./privacy-service.js";
import { createUserDataPartsOverMesh } from "./user-data-parts.js";
import { registerComplianceRoutes } from "./routes.js";

export { AuditAppender, type AuditDraft, type AuditAppenderOptions, type CheckpointSigner } from "./audit-appender.js";
export { AuditKeyManager, auditKeyKek } from "./audit-keys.js";
export { AuditRecorder, auditOfAuthEvent, auditOfChatEvent, auditOfUserStateEvent, PLATFORM_TENANT, AUDIT_CONSUMER_GROUP } from "./audit-recorder.js";
export { AuditServiceImpl, auditScopeOf, AUDIT_READER_ROLE, type AuditServiceDeps } from "./audit-service.js";
export { openAuditStore, openAuditStoreForConfig, openPrivacyJobStore, COMPLIANCE_DB_FILE, type AuditBackend } from "./audit-stores.js";
export { PrivacyJobRunner, ERASURE_SERVICES, type ErasurePart, type PartPage } from "./privacy-jobs.js";
export { PrivacyServiceImpl, privacyScopeOf, exportCallerOf, jobView, EXPORT_REUSE_MS, EXPORT_DOWNLOAD_SECONDS } from "./privacy-service.js";
export { ExportSteps, EXPORT_SERVICES, ARCHIVE_STEP, PART_FLUSH_BYTES, type ExportPart, type ExportPage, type ExportArchiveSink } from "./export-job.js";
export { createAuditExportPart } from "./audit-user-export.js";
export type { PrivacyJobStore, PrivacyJobRecord, JobStep } from "./ports/privacy-job-store.js";
export { EXPORT_FORMAT } from "./audit-export.js";
export { canonicalEventBytes, chainHash, checkpointSignatureValid, GENESIS_HASH } from "./domain/audit-chain.js";
export { verifyChain, type VerifyInput, type VerifyResult, type ChainAnchor } from "./domain/audit-verify.js";
export type { AuditStore, AuditFilter, ChainHead, InsertOutcome, AuditKeyRecord } from "./ports/audit-store.js";

/**
 * The compliance service: the tamper-evident audit log (AuditService) and data-subject
 * erasure and export jobs (PrivacyService, driving auth's and chat's EraseUserData and auth's,
 * chat's and media's ExportUserData, the archive built in media's blob store; PrivacyJobRunner). Records come from the bus
 * only (auth, chat and user-state topics, consumer groups `compliance-audit.<topic>`) and are appended to
 * per-tenant hash chains in the audit store (SQLite / MongoDB); the head of a tenant is signed
 * (Ed25519) every CAAS_AUDIT_CHECKPOINT_EVERY records and CAAS_AUDIT_CHECKPOINT_INTERVAL_MS after
 * its last record. Readers: a tenant's API key or a tenant admin's access token (their tenant), the
 * platform-admin credential (any tenant); auth checks API keys and the admin credential.
 */
export async function createComplianceService(ctx: ServiceContext): Promise<ServiceDefinition> {
  const { config, logger, clock, peers, bus, serviceSecret } = ctx;
  if (!serviceSecret) throw new Error("the compliance service needs CAAS_SERVICE_SECRET: its signing keys are sealed with a key derived from it and it checks API keys with a service token");
  const store = await openAuditStoreForConfig(config, logger);
  const keys = new AuditKeyManager({ store, kek: auditKeyKek(serviceSecret), clock, logger });
  const appender = new AuditAppender({ store, clock, signer: keys, logger, checkpointEvery: config.compliance.auditCheckpointEvery });
  const recorder = new AuditRecorder({ bus, appender, nowMs: () => clock.nowMs(), logger });
  const pageSecret = Buffer.from(hkdfSync("sha256", Buffer.from(serviceSecret, "utf8"), "caas-compliance-v1", "page-token-secret", 32));
  const audit = new AuditServiceImpl({ store, keys, pageTokens: new PageTokenCodec(pageSecret) });
  const jobs = await openPrivacyJobStore(await complianceBackendOf(config), { logger });
  const parts = createUserDataPartsOverMesh({ peers, serviceSecret, clock });
  const exports = new ExportSteps({ parts: { ...parts.exports, compliance: createAuditExportPart(store) }, sink: parts.archive, nowMs: () => clock.nowMs() });
  const runner = new PrivacyJobRunner({ store: jobs, parts: parts.erasure, exports, clock, logger });
  const privacy = new PrivacyServiceImpl({
    store: jobs,
    runner,
    userExists: (tenantId, userId) => parts.userExists(tenantId, userId),
    presignExport: (...args) => parts.presignExport(...args),
    nowMs: () => clock.nowMs(),
  });
  const principalResolver = createPrincipalResolver({
    verifier: createMeshJwtVerifier({ peers, clock }),
    credentials: createCredentialsOverMesh({ peers, serviceSecret, clock }),
    ...(ctx.revocations ? { revocations: ctx.revocations } : {}),
    serviceAudience: "compliance",
  });
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<unknown> = Promise.resolve();
  const intervalMs = config.compliance.auditCheckpointIntervalMs;
  return {
    name: "compliance",
    services: [AuditService, PrivacyService],
    register: (router) => registerComplianceRoutes(router, { audit, privacy }),
    principalResolver,
    start: async () => {
      await recorder.start();
      await runner.resumeAll();
      if (intervalMs > 0) {
        timer = setInterval(() => {
          ticking = ticking.then(() => appender.checkpointTouched()).catch((err: unknown) => logger.warn({ err }, "audit checkpoint failed; retried at the next tick"));
        }, intervalMs);
        timer.unref();
      }
      logger.info({ checkpointEvery: config.compliance.auditCheckpointEvery, checkpointIntervalMs: intervalMs }, "audit recorder started");
    },
    drain: async () => {
      if (timer) clearInterval(timer);
      await recorder.stop();
      await ticking;
      await runner.stop();
    },
    close: async () => {
      if (timer) clearInterval(timer);
      await recorder.stop();
      await ticking;
      await runner.stop();
      await Promise.all([store.close(), jobs.close()]);
    },
  };
}
