import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  PrivacyJobKind,
  GetJobResponseSchema,
  PrivacyJobSchema,
  RequestErasureResponseSchema,
  PrivacyJobState,
  ServiceProgressSchema,
  SkippedDataSchema,
  type GetJobRequest,
  type GetJobResponse,
  type PrivacyJob,
  type PrivacyService,
  type RequestErasureRequest,
  type RequestErasureResponse,
} from "@caas/gen/caas/compliance/v1/privacy_service_pb.js";
import { correlationIdKey, principalKey } from "@caas/shared/context";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, PermissionDeniedError, UnauthenticatedError } from "@caas/shared/errors";
import { scopeForAdmin, scopeFromVerifiedClaims, type TenantScope } from "@caas/shared/tenant-scope";
import type { PrivacyJobRecord, PrivacyJobStore } from "./ports/privacy-job-store.js";
import type { HoldLookup, PrivacyJobRunner, SelfAudit } from "./privacy-jobs.js";
import { principalActor } from "./retention-admin.js";

const USER_ID = /^[A-Za-z0-9_.@:-]{1,128}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface PrivacyServiceDeps {
  store: PrivacyJobStore;
  runner: PrivacyJobRunner;
  /** Whether the tenant has the user (auth). */
  userExists(tenantId: string, userId: string): Promise<boolean>;
  /** The tenant's active legal holds (none when absent). */
  holds?: HoldLookup;
  /** Records compliance's own actions in the tenant's audit chain (none when absent). */
  audit?: SelfAudit;
}

/**
 * caas.compliance.v1.PrivacyService: erasure requests become persisted jobs run by the
 * PrivacyJobRunner. One unfinished job per user (the store's open key) makes a repeated request
 * return the same job; a succeeded one is returned while the user stays gone.
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

  async getJob(req: GetJobRequest, ctx: HandlerContext): Promise<GetJobResponse> {
    const scope = privacyScopeOf(ctx, req.tenantId);
    if (!UUID.test(req.jobId)) throw invalid("job_id", "must be a lowercase UUID");
    const job = await this.deps.store.get(scope, req.jobId);
    if (!job) throw new NotFoundError("job");
    return create(GetJobResponseSchema, { job: jobView(job) });
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

/** The API view of a stored job. */
export function jobView(job: PrivacyJobRecord): PrivacyJob {
  const done = job.steps.filter((s) => s.done).length;
  return create(PrivacyJobSchema, {
    id: job.id,
    tenantId: job.tenantId,
    kind: PrivacyJobKind.ERASURE,
    userId: job.userId,
    state: job.state === "succeeded" ? PrivacyJobState.SUCCEEDED : job.state === "failed" ? PrivacyJobState.FAILED : PrivacyJobState.RUNNING,
    percent: job.state === "succeeded" ? 100 : Math.floor((done * 100) / Math.max(job.steps.length, 1)),
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
  });
}

function invalid(field: string, description: string): InvalidArgumentError {
  return new InvalidArgumentError(`${field}: ${description}`, [{ field, description }]);
}
