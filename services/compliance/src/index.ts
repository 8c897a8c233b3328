import { chatEventsOpenedOverMesh } from "@caas/shared/sealing/data-key-client";
import { hkdfSync } from "node:crypto";
import { AuditService } from "@caas/gen/caas/compliance/v1/audit_service_pb.js";
import { PrivacyService } from "@caas/gen/caas/compliance/v1/privacy_service_pb.js";
import { RetentionService } from "@caas/gen/caas/compliance/v1/retention_service_pb.js";
import { createMeshJwtVerifier } from "@caas/shared/identity/mesh-resolver";
import { createPrincipalResolver } from "@caas/shared/identity/principal-resolver";
import { PageTokenCodec } from "@caas/shared/page-token";
import type { ServiceContext } from "@caas/shared/service-runtime";
import type { ServiceDefinition } from "@caas/shared/server/service-host";
import { createCredentialsOverMesh } from "./mesh-credentials.js";
import { AuditAppender } from "./audit-appender.js";
import { auditKeyKek, AuditKeyManager } from "./audit-keys.js";
import { auditSubjectKey, AuditPseudonyms } from "./audit-pseudonyms.js";
import { AuditRecorder } from "./audit-recorder.js";
import { AuditServiceImpl } from "./audit-service.js";
import { complianceBackendOf, openAuditStoreForConfig, openPrivacyJobStore, openRetentionStore } from "./audit-stores.js";
import { LegalHolds } from "./legal-holds.js";
import { createRetentionPartsOverMesh } from "./retention-parts.js";
import { RetentionServiceImpl } from "./retention-service.js";
import { ownAuditOf, RetentionSweeper } from "./retention-sweeper.js";
import { PLATFORM_TENANT } from "./audit-recorder.js";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import { createAuditExportPart } from "./audit-user-export.js";
import { ExportSteps } from "./export-job.js";
import { ExportArchives } from "./export-archives.js";
import { PrivacyJobRunner } from "./privacy-jobs.js";
import { PrivacyServiceImpl } from "./privacy-service.js";
import { createUserDataPartsOverMesh } from "./user-data-parts.js";
import { createTenantDeletionPartsOverMesh, requestTenantDeletion } from "./tenant-deletion.js";
import { registerComplianceRoutes } from "./routes.js";

export { AuditAppender, type AuditDraft, type AuditAppenderOptions, type CheckpointSigner } from "./audit-appender.js";
export { AuditKeyManager, auditKeyKek } from "./audit-keys.js";
export { AuditPseudonyms, auditSubjectKey, pseudonymOf, PSEUDONYM_PREFIX, USER_ID_DETAILS } from "./audit-pseudonyms.js";
export type { AuditSubjectStore, AuditSubjectRecord } from "./ports/audit-subjects.js";
export { AuditRecorder, auditOfAuthEvent, auditOfChatEvent, auditOfMediaEvent, auditOfUserStateEvent, PLATFORM_TENANT, AUDIT_CONSUMER_GROUP } from "./audit-recorder.js";
export { AuditServiceImpl, auditScopeOf, AUDIT_READER_ROLE, type AuditServiceDeps } from "./audit-service.js";
export { openAuditStore, openAuditStoreForConfig, openPrivacyJobStore, openRetentionStore, COMPLIANCE_DB_FILE, type AuditBackend } from "./audit-stores.js";
export { RetentionSweeper, type RetentionTally } from "./retention-sweeper.js";
export { LegalHolds } from "./legal-holds.js";
export type { RetentionStore, RetentionPolicyRecord, LegalHoldRecord } from "./ports/retention-store.js";
export { PrivacyJobRunner, ERASURE_SERVICES, type ErasurePart, type PartPage } from "./privacy-jobs.js";
export { PrivacyServiceImpl, privacyScopeOf, exportCallerOf, jobView, EXPORT_REUSE_MS, EXPORT_DOWNLOAD_SECONDS } from "./privacy-service.js";
export { ExportArchives, type ExportDeleter } from "./export-archives.js";
export {
  ExportSteps,
  EXPORT_SERVICES,
  ARCHIVE_STEP,
  PART_FLUSH_BYTES,
  DEFAULT_EXPORT_TTL_MS,
  EXPORT_MAX_ENTRIES,
  EXPORT_TOO_LARGE,
  type ExportPart,
  type ExportPage,
  type ExportArchiveSink,
} from "./export-job.js";
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
  const { config, logger, clock, peers, serviceSecret } = ctx;
  if (!serviceSecret) throw new Error("the compliance service needs CAAS_SERVICE_SECRET: its signing keys are sealed with a key derived from it and it checks API keys with a service token");
  const store = await openAuditStoreForConfig(config, logger);
  const keys = new AuditKeyManager({ store, kek: auditKeyKek(serviceSecret), clock, logger });
  const pseudonyms = new AuditPseudonyms({ store, subjectKey: auditSubjectKey(serviceSecret), nowMs: () => clock.nowMs() });
  const appender = new AuditAppender({ store, clock, signer: keys, logger, checkpointEvery: config.compliance.auditCheckpointEvery, pseudonyms });
  // Chat events arrive sealed at rest (ADR 0120): opened once per record with keys asked of chat.
  const recorder = new AuditRecorder({ bus: chatEventsOpenedOverMesh(ctx, "compliance"), appender, nowMs: () => clock.nowMs(), logger });
  const pageSecret = Buffer.from(hkdfSync("sha256", Buffer.from(serviceSecret, "utf8"), "caas-compliance-v1", "page-token-secret", 32));
  const audit = new AuditServiceImpl({
    store,
    keys,
    pseudonyms,
    pageTokens: new PageTokenCodec(pageSecret),
    recordVerification: (record) => ownAuditOf(appender, clock)(scopeForAdmin(PLATFORM_TENANT), record),
  });
  const backend = await complianceBackendOf(config);
  const jobs = await openPrivacyJobStore(backend, { logger });
  const retentionStore = await openRetentionStore(backend, { logger });
  const parts = createUserDataPartsOverMesh({ peers, serviceSecret, clock });
  const retentionParts = createRetentionPartsOverMesh({ peers, serviceSecret, clock });
  const selfAudit = ownAuditOf(appender, clock);
  const exportTtlOf = async (tenantId: string) => (await retentionStore.getPolicy(scopeForAdmin(tenantId), ""))?.exportMaxAgeMs || config.compliance.exportArchiveTtlMs;
  const archives = new ExportArchives({ store: jobs, remove: (...args) => parts.deleteExport(...args), ttlOf: exportTtlOf, clock, logger, audit: selfAudit });
  const sweeper = new RetentionSweeper({ store: retentionStore, parts: retentionParts, appender, clock, logger, exports: archives });
  const conversationExists = (tenantId: string, conversationId: string) => retentionParts.conversationExists(tenantId, conversationId);
  const userExists = (tenantId: string, userId: string) => parts.userExists(tenantId, userId);
  const holds = new LegalHolds({ store: retentionStore, appender, clock, userExists, conversationExists });
  const retention = new RetentionServiceImpl({
    store: retentionStore,
    sweeper,
    holds,
    clock,
    conversationExists,
    defaultExportMaxAgeMs: config.compliance.exportArchiveTtlMs,
    tenantMessageRetention: (tenantId) => retentionParts.tenantMessageRetention(tenantId),
  });
  const holdLookup = (tenantId: string) => holds.activeFor(tenantId);
  const exports = new ExportSteps({ parts: { ...parts.exports, compliance: createAuditExportPart(store, pseudonyms) }, sink: parts.archive, nowMs: () => clock.nowMs() });
  const tenantDeletion = createTenantDeletionPartsOverMesh({ peers, serviceSecret, clock });
  const runner = new PrivacyJobRunner({
    store: jobs,
    parts: { ...parts.erasure, exports: archives.erasurePart },
    tenantParts: { ...tenantDeletion.parts, exports: archives.tenantPart },
    exports,
    clock,
    logger,
    holds: holdLookup,
    audit: selfAudit,
    exportExpiry: (tenantId, completeTimeMs) => archives.expireTimeFor(tenantId, completeTimeMs),
    forgetAuditSubject: (scope, userId) => pseudonyms.forget(scope, userId),
  });
  const privacy = new PrivacyServiceImpl({
    store: jobs,
    runner,
    userExists,
    holds: holdLookup,
    audit: selfAudit,
    presignExport: (...args) => parts.presignExport(...args),
    requestTenantDeletion: (req, ctx) => requestTenantDeletion({ store: jobs, runner, holds: holdLookup, audit: selfAudit, markDeleted: (id) => tenantDeletion.markDeleted(id) }, req, ctx),
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
    services: [AuditService, PrivacyService, RetentionService],
    register: (router) => registerComplianceRoutes(router, { audit, privacy, retention }),
    principalResolver,
    start: async () => {
      await recorder.start();
      await runner.resumeAll();
      sweeper.start(config.compliance.retentionSweepIntervalMs);
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
      await sweeper.stop();
      await recorder.stop();
      await ticking;
      await runner.stop();
    },
    close: async () => {
      if (timer) clearInterval(timer);
      await sweeper.stop();
      await recorder.stop();
      await ticking;
      await runner.stop();
      await Promise.all([store.close(), jobs.close(), retentionStore.close()]);
    },
  };
}
