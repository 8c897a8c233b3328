import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  PrivacyJobKind,
  GetExportDownloadResponseSchema,
  GetJobResponseSchema,
  RequestExportResponseSchema,
  PrivacyJobSchema,
  RequestErasureResponseSchema,
  PrivacyJobState,
  ServiceProgressSchema,
  SkippedDataSchema,
  type GetExportDownloadRequest,
  type GetExportDownloadResponse,
  type GetJobRequest,
  type GetJobResponse,
  type PrivacyJob,
  type PrivacyService,
  type RequestErasureRequest,
  type RequestErasureResponse,
  type RequestExportRequest,
  type RequestExportResponse,
  type RequestTenantDeletionRequest,
  type RequestTenantDeletionResponse,
} from "@caas/gen/caas/compliance/v1/privacy_service_pb.js";
import { correlationIdKey, principalKey } from "@caas/shared/context";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, PermissionDeniedError, UnauthenticatedError } from "@caas/shared/errors";
import { scopeForAdmin, scopeFromVerifiedClaims, type TenantScope } from "@caas/shared/tenant-scope";
import type { PrivacyJobRecord, PrivacyJobStore } from "./ports/privacy-job-store.js";
import type { HoldLookup, PrivacyJobRunner, SelfAudit } from "./privacy-jobs.js";
import { principalActor } from "./retention-admin.js";

const USER_ID = /^[A-Za-z0-9_.@:-]{1,128}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A succeeded export is returned again (not redone) for this long. */
export const EXPORT_REUSE_MS = 24 * 3600_000;

/** Lifetime of an export's download URL. */
export const EXPORT_DOWNLOAD_SECONDS = 3600;

export interface PrivacyServiceDeps {
  store: PrivacyJobStore;
  runner: PrivacyJobRunner;
  /** Whether the tenant has the user (auth). */
  userExists(tenantId: string, userId: string): Promise<boolean>;
  /** The tenant's active legal holds (none when absent). */
  holds?: HoldLookup;
  /** Records compliance's own actions in the tenant's audit chain (none when absent). */
  audit?: SelfAudit;
  /** A time-limited download URL of a sealed export (media). */
  presignExport(tenantId: string, exportId: string, expiresInSeconds: number, filename: string): Promise<{ url: string; expireTimeMs: number }>;
  nowMs(): number;
  /** RequestTenantDeletion (tenant-deletion.ts). */
  requestTenantDeletion(req: RequestTenantDeletionRequest, ctx: HandlerContext): Promise<RequestTenantDeletionResponse>;
}

/**
 * caas.compliance.v1.PrivacyService: erasure and export requests become persisted jobs run by the
 * PrivacyJobRunner. One unfinished job per user and kind (the store's open key) makes a repeated
 * request return the same job; a succeeded erasure is returned while the user stays gone, a
 * succeeded export for EXPORT_REUSE_MS.
 */
export class PrivacyServiceImpl implements ServiceImpl<typeof PrivacyService> {
  constructor(private readonly deps: PrivacyServiceDeps) {}

  async requestErasure(req: RequestErasureRequest, ctx: HandlerContext): Promise<RequestErasureResponse> {
    const scope = privacyScopeOf(ctx, req.tenantId);
    if (!USER_ID.test(req.userId)) throw invalid("user_id", "must match ^[A-Za-z0-9_.@:-]{1,128}$");
    const { store, runner } = this.deps;
    const latest = await store.latest(scope, "erasure", req.userId);
    const exists = await this.deps.userExists(scope.tenantId, req.userId);
    // A held user's erasure is refused outright (an unfinished job stays as it is until the release).
    if (exists && (await this.held(scope.tenantId, req.userId))) throw new FailedPreconditionError("the user is under a legal hold: erasure waits until the hold is released");
    let job: PrivacyJobRecord;
    if (latest && latest.state !== "succeeded") job = latest;
    else if (!exists && latest) return create(RequestErasureResponseSchema, { job: jobView(latest) });
    else if (!exists) throw new NotFoundError("user");
    else {
      const made = await store.create(scope, runner.newErasure(scope.tenantId, req.userId));
      job = made.job;
      if (made.created) {
        const draft = { action: "compliance.erasure.request", actor: principalActor(ctx), target: { type: "user", id: req.userId }, details: { job_id: job.id } };
        await this.deps.audit?.(scope, { ...draft, sourceEventId: `erasure:${job.id}:request`, correlationId: ctx.values.get(correlationIdKey) });
      }
    }
    void runner.kick(job);
    return create(RequestErasureResponseSchema, { job: jobView(job) });
  }

  private async held(tenantId: string, userId: string): Promise<boolean> {
    const holds = await this.deps.holds?.(tenantId);
    return holds !== undefined && (holds.tenant || holds.users.has(userId));
  }

  async requestExport(req: RequestExportRequest, ctx: HandlerContext): Promise<RequestExportResponse> {
    const { scope, userId } = exportCallerOf(ctx, req.tenantId, req.userId);
    if (!USER_ID.test(userId)) throw invalid("user_id", "must match ^[A-Za-z0-9_.@:-]{1,128}$");
    const { store, runner } = this.deps;
    const latest = await store.latest(scope, "export", userId);
    const now = this.deps.nowMs();
    // An unfinished job goes on; a succeeded one is reused for a day while its archive is still there.
    const fresh = latest && (latest.state === "running" || latest.state === "failed" || (latest.state === "succeeded" && now - latest.completeTimeMs < EXPORT_REUSE_MS && !archiveDue(latest, now)));
    let job: PrivacyJobRecord;
    if (latest && fresh) job = latest;
    else if (!(await this.deps.userExists(scope.tenantId, userId))) throw new NotFoundError("user");
    else {
      const made = await store.create(scope, runner.newExport(scope.tenantId, userId));
      job = made.job;
      if (made.created) {
        const draft = { action: "compliance.export.request", actor: principalActor(ctx), target: { type: "user", id: userId }, details: { job_id: job.id } };
        await this.deps.audit?.(scope, { ...draft, sourceEventId: `export:${job.id}:request`, correlationId: ctx.values.get(correlationIdKey) });
      }
    }
    void runner.kick(job);
    return create(RequestExportResponseSchema, { job: jobView(job) });
  }

  async getExportDownload(req: GetExportDownloadRequest, ctx: HandlerContext): Promise<GetExportDownloadResponse> {
    const job = await this.visibleJob(ctx, req.tenantId, req.jobId);
    if (job.kind !== "export") throw new NotFoundError("export job");
    const archive = job.steps.find((s) => s.archive)?.archive;
    const now = this.deps.nowMs();
    if (job.state === "expired" || (job.state === "succeeded" && archiveDue(job, now))) {
      const why = job.deleteReason === "erasure" ? "the user was erased" : "its retention (archive_expire_time) ran out";
      throw new FailedPreconditionError(`the export archive was deleted because ${why}: request a new export`);
    }
    if (job.state !== "succeeded" || !archive) throw new FailedPreconditionError("the export has not finished yet: poll GetJob until it SUCCEEDED");
    // The URL does not outlive the archive.
    const seconds = job.expireTimeMs > 0 ? Math.max(1, Math.min(EXPORT_DOWNLOAD_SECONDS, Math.floor((job.expireTimeMs - now) / 1000))) : EXPORT_DOWNLOAD_SECONDS;
    const signed = await this.deps.presignExport(job.tenantId, job.id, seconds, `caas-export-${job.id}.tar`);
    return create(GetExportDownloadResponseSchema, { url: signed.url, expireTime: timestampFromMs(signed.expireTimeMs), size: BigInt(archive.size), sha256: archive.sha256 });
  }

  async requestTenantDeletion(req: RequestTenantDeletionRequest, ctx: HandlerContext): Promise<RequestTenantDeletionResponse> {
    return this.deps.requestTenantDeletion(req, ctx);
  }

  async getJob(req: GetJobRequest, ctx: HandlerContext): Promise<GetJobResponse> {
    return create(GetJobResponseSchema, { job: jobView(await this.visibleJob(ctx, req.tenantId, req.jobId)) });
  }

  /** A job the caller may see: any of its tenant's, or for a user their own exports only (everything else NOT_FOUND). */
  private async visibleJob(ctx: HandlerContext, tenantId: string, jobId: string): Promise<PrivacyJobRecord> {
    const p = ctx.values.get(principalKey);
    const scope = p.kind === "user" ? exportCallerOf(ctx, tenantId, "").scope : privacyScopeOf(ctx, tenantId);
    if (!UUID.test(jobId)) throw invalid("job_id", "must be a lowercase UUID");
    const job = await this.deps.store.get(scope, jobId);
    if (!job || (p.kind === "user" && (job.kind !== "export" || job.userId !== p.userId))) throw new NotFoundError("job");
    return job;
  }
}

/** The tenant a privacy call acts for: an API key's own (a different tenant_id is refused), or the one the platform admin names. */
export function privacyScopeOf(ctx: HandlerContext, tenantId: string): TenantScope {
  const p = ctx.values.get(principalKey);
  switch (p.kind) {
    case "anonymous":
      throw new UnauthenticatedError("a tenant API key or the platform-admin credential is required");
    case "api-key":
      if (tenantId && tenantId !== p.tenantId) throw new PermissionDeniedError("an API key acts for its own tenant only");
      return scopeFromVerifiedClaims({ tenant: p.tenantId });
    case "platform-admin":
      if (!UUID.test(tenantId)) throw invalid("tenant_id", "the platform admin names the tenant (a lowercase UUID)");
      return scopeForAdmin(tenantId);
    default:
      throw new PermissionDeniedError("privacy requests are made with a tenant API key or the platform-admin credential");
  }
}

/** Who an export is for: a user exports themself only (their own id or none); API keys and the platform admin as for every privacy request. */
export function exportCallerOf(ctx: HandlerContext, tenantId: string, userId: string): { scope: TenantScope; userId: string } {
  const p = ctx.values.get(principalKey);
  if (p.kind !== "user") return { scope: privacyScopeOf(ctx, tenantId), userId };
  if (tenantId && tenantId !== p.tenantId) throw new PermissionDeniedError("a user acts in their own tenant only");
  if (userId && userId !== p.userId) throw new PermissionDeniedError("a user may export only their own data");
  return { scope: scopeFromVerifiedClaims({ tenant: p.tenantId }), userId: p.userId };
}

/** The API view of a stored job. */
export function jobView(job: PrivacyJobRecord): PrivacyJob {
  const done = job.steps.filter((s) => s.done).length;
  return create(PrivacyJobSchema, {
    id: job.id,
    tenantId: job.tenantId,
    kind: job.kind === "export" ? PrivacyJobKind.EXPORT : job.kind === "tenant_deletion" ? PrivacyJobKind.TENANT_DELETION : PrivacyJobKind.ERASURE,
    userId: job.userId,
    state: STATES[job.state],
    percent: job.state === "succeeded" || job.state === "expired" ? 100 : Math.floor((done * 100) / Math.max(job.steps.length, 1)),
    services: job.steps.map((s) =>
      create(ServiceProgressSchema, {
        service: s.service,
        items: BigInt(s.items),
        done: s.done,
        skipped: (s.skipped ?? []).map((id) => create(SkippedDataSchema, { type: "conversation", id, reason: "legal_hold" })),
      }),
    ),
    error: job.error,
    createTime: timestampFromMs(job.createTimeMs),
    updateTime: timestampFromMs(job.updateTimeMs),
    ...(job.completeTimeMs > 0 ? { completeTime: timestampFromMs(job.completeTimeMs) } : {}),
    ...(job.expireTimeMs > 0 ? { archiveExpireTime: timestampFromMs(job.expireTimeMs) } : {}),
    archiveDeleteReason: job.deleteReason,
  });
}

const STATES = { running: PrivacyJobState.RUNNING, succeeded: PrivacyJobState.SUCCEEDED, failed: PrivacyJobState.FAILED, expired: PrivacyJobState.EXPIRED } as const;

/** Whether a succeeded export's archive is past its expiry (the sweep deletes it at its next run; it is not handed out meanwhile). */
function archiveDue(job: PrivacyJobRecord, nowMs: number): boolean {
  return job.kind === "export" && job.expireTimeMs > 0 && job.expireTimeMs <= nowMs;
}

function invalid(field: string, description: string): InvalidArgumentError {
  return new InvalidArgumentError(`${field}: ${description}`, [{ field, description }]);
}
