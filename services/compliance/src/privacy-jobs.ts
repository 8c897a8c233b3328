import { randomUUID } from "node:crypto";
import type { Clock } from "@caas/shared/clock";
import type { Logger } from "@caas/shared/logger";
import { scopeForAdmin, type TenantScope } from "@caas/shared/tenant-scope";
import { AuditActorKind } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import { FailedPreconditionError } from "@caas/shared/errors";
import { PLATFORM_TENANT } from "./audit-recorder.js";
import type { AuditDraft } from "./audit-appender.js";
import type { HoldSet } from "./domain/retention-policy.js";
import { ARCHIVE_STEP, DEFAULT_EXPORT_TTL_MS, EXPORT_SERVICES, type ExportSteps } from "./export-job.js";
import type { JobStep, PrivacyJobKind, PrivacyJobRecord, PrivacyJobStore } from "./ports/privacy-job-store.js";

/** One page of a service's part: items handled, held conversations passed over, and the cursor to go on from ("" when the part is done). */
export interface PartPage {
  items: number;
  next: string;
  skipped?: string[];
}

/** A service's part of an erasure, called again with the returned cursor until it comes back ""; `held` names conversations under a legal hold. */
export type ErasurePart = (tenantId: string, userId: string, cursor: string, held: string[]) => Promise<PartPage>;

/** Appends one of compliance's own actions to the tenant's audit chain (exactly once per source event id). */
export type SelfAudit = (
  scope: TenantScope,
  record: { sourceEventId: string; action: string; actor: AuditDraft["actor"]; target: AuditDraft["target"]; correlationId: string; details?: Record<string, string> },
) => Promise<void>;

/** The active legal holds of a tenant, as erasure needs them. */
export type HoldLookup = (tenantId: string) => Promise<HoldSet>;

/**
 * The services an erasure runs through, in order: the account first (no new sessions, no new
 * content), then the content (chat's messages), the files, the search documents (chat's
 * deletes also reach search through the bus; this removes what is indexed now, at once), and last
 * the user's earlier export archives (compliance's own jobs, their objects in media's blob store).
 */
export const ERASURE_SERVICES = ["auth", "chat", "media", "search", "exports"] as const;

/**
 * The steps of a tenant deletion, in order: chat's data keys first (every stored message and bus
 * record of the tenant becomes unreadable at once, and no consumer can open one again), then the
 * words search holds (search stops indexing the tenant before it purges), the files, the GDPR
 * export archives of its users (compliance's own jobs, their objects in media's blob store), and last the
 * accounts (users, sessions, API keys). The tenant itself is marked DELETED in auth before the
 * job starts, so nothing of it is written meanwhile.
 */
export const TENANT_DELETION_SERVICES = ["chat", "search", "media", "exports", "auth"] as const;

/** Each service's part of a tenant deletion (the user and held arguments are unused). */
export type TenantDeletionParts = Record<(typeof TENANT_DELETION_SERVICES)[number], ErasurePart>;

/** Throws FAILED_PRECONDITION when anything of the tenant is under a legal hold. */
export function refuseHeld(holds: HoldSet): void {
  if (holds.tenant || holds.users.size > 0 || holds.conversations.size > 0) {
    const what = holds.tenant ? "the whole tenant" : `${holds.users.size} user(s) and ${holds.conversations.size} conversation(s)`;
    throw new FailedPreconditionError(`the tenant is under a legal hold (${what}): it cannot be deleted until every hold is released`);
  }
}

export interface PrivacyJobRunnerDeps {
  store: PrivacyJobStore;
  parts: Record<(typeof ERASURE_SERVICES)[number], ErasurePart>;
  /** Runs tenant deletions' steps (without them, tenant deletion jobs fail). */
  tenantParts?: TenantDeletionParts;
  /** Runs export jobs' steps (without it, export jobs fail). */
  exports?: ExportSteps;
  clock: Clock;
  logger: Logger;
  /** Legal holds (none when absent). */
  holds?: HoldLookup;
  /** Records completions in the tenant's audit chain (none when absent). */
  audit?: SelfAudit;
  /** When a succeeded export's archive is deleted (without it, DEFAULT_EXPORT_TTL_MS after completion). */
  exportExpiry?: (tenantId: string, completeTimeMs: number) => Promise<number>;
  /** Unlinks an erased user from their audit pseudonym (AuditPseudonyms.forget); none when absent. */
  forgetAuditSubject?: (scope: TenantScope, userId: string) => Promise<unknown>;
}

/** Refused while held: the job fails with this, and a request after the release runs it again. */
export const HELD_ERROR = "the user is under a legal hold";

/**
 * Runs data-subject jobs. Each service's part is paged; after every page the job's steps (items,
 * cursor, done) are saved, so a job picked up again after a restart (`resumeAll`) or a retry goes
 * on from the last saved page. Each part is idempotent, so a page redone after a crash (or by a
 * second compliance instance running the same job) changes nothing twice. A failure marks the job
 * FAILED with the error; it is retried when asked for again and at the next start.
 */
export class PrivacyJobRunner {
  private readonly running = new Map<string, Promise<void>>();
  private stopped = false;

  constructor(private readonly deps: PrivacyJobRunnerDeps) {}

  /** A new erasure job for the user (not stored). */
  newErasure(tenantId: string, userId: string): PrivacyJobRecord {
    return this.newJob(tenantId, userId, "erasure", ERASURE_SERVICES);
  }

  /** A new export job for the user (not stored): each service's part, then packing the archive. */
  newExport(tenantId: string, userId: string): PrivacyJobRecord {
    return this.newJob(tenantId, userId, "export", [...EXPORT_SERVICES, ARCHIVE_STEP]);
  }

  /** A new tenant deletion job (not stored; no user). */
  newTenantDeletion(tenantId: string): PrivacyJobRecord {
    return this.newJob(tenantId, "", "tenant_deletion", TENANT_DELETION_SERVICES);
  }

  private newJob(tenantId: string, userId: string, kind: PrivacyJobKind, services: readonly string[]): PrivacyJobRecord {
    const now = this.deps.clock.nowMs();
    const steps: JobStep[] = services.map((service) => ({ service, items: 0, done: false, cursor: "" }));
    return { tenantId, id: randomUUID(), kind, userId, state: "running", steps, error: "", createTimeMs: now, updateTimeMs: now, completeTimeMs: 0, expireTimeMs: 0, deleteReason: "" };
  }

  /** Starts the job in the background unless it already runs in this process or succeeded; the returned promise settles when this run ends. */
  kick(job: PrivacyJobRecord): Promise<void> {
    if (job.state === "succeeded" || job.state === "expired" || this.stopped) return Promise.resolve();
    const key = `${job.tenantId}|${job.id}`;
    let run = this.running.get(key);
    if (!run) {
      run = this.run(job).finally(() => this.running.delete(key));
      this.running.set(key, run);
    }
    return run;
  }

  /** Picks up every unfinished job (at start). */
  async resumeAll(): Promise<void> {
    const jobs = await this.deps.store.unfinished(1000);
    if (jobs.length > 0) this.deps.logger.info({ jobs: jobs.length }, "resuming privacy jobs");
    for (const job of jobs) void this.kick(job);
  }

  /** Stops the runs in flight after their current page (they stay RUNNING and resume at the next start) and waits for them. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.idle();
  }

  /** Waits for the runs in flight. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.running.values()]);
  }

  /**
   * An export whose job was deleted while it ran (the user erased, the tenant deleted) removes
   * what it wrote after the deletion read its paths: its parts, copied files and a sealed archive.
   */
  private async discard(job: PrivacyJobRecord): Promise<void> {
    if (job.kind === "export" && this.deps.exports) {
      await this.deps.exports.discardAll(job).catch((err: unknown) => this.deps.logger.warn({ err, tenantId: job.tenantId, jobId: job.id }, "a deleted export's late entries were not removed"));
    }
    this.deps.logger.info({ tenantId: job.tenantId, jobId: job.id, kind: job.kind }, "privacy job deleted while it ran; stopped");
  }

  /** The conversations held in the job's tenant; throws HELD_ERROR when the user or the tenant is held. */
  private async heldConversations(job: PrivacyJobRecord): Promise<string[]> {
    if (!this.deps.holds) return [];
    const holds = await this.deps.holds(job.tenantId);
    // A hold placed after a tenant deletion was requested stops it before its next step.
    if (job.kind === "tenant_deletion") return (refuseHeld(holds), []);
    if (holds.tenant || holds.users.has(job.userId)) throw new Error(`${HELD_ERROR} (${holds.tenant ? "the whole tenant" : "the user"} is held)`);
    return [...holds.conversations].sort();
  }

  private async run(stored: PrivacyJobRecord): Promise<void> {
    const scope = scopeForAdmin(stored.tenantId);
    const job: PrivacyJobRecord = { ...structuredClone(stored), state: "running", error: "" };
    const save = async () => {
      job.updateTimeMs = this.deps.clock.nowMs();
      if (!(await this.deps.store.save(scope, job))) throw new JobDeletedError(job.id);
    };
    try {
      if (stored.state === "failed") await save();
      for (const step of job.steps) {
        if (job.kind === "export") {
          if (!this.deps.exports) throw new Error("exports are not configured");
          await this.deps.exports.run(job, step, save, () => this.stopped);
          if (!step.done) return;
          continue;
        }
        const parts: Record<string, ErasurePart> | undefined = job.kind === "tenant_deletion" ? this.deps.tenantParts : this.deps.parts;
        const part = parts?.[step.service];
        if (!part) throw new Error(`no part for service ${step.service}`);
        while (!step.done) {
          if (this.stopped) return;
          // Holds are read when a step starts; its page tokens are bound to the held conversations then.
          if (step.cursor === "") step.held = await this.heldConversations(job);
          const page = await part(job.tenantId, job.userId, step.cursor, step.held ?? []);
          step.items += page.items;
          step.cursor = page.next;
          step.done = page.next === "";
          if (page.skipped?.length) step.skipped = [...new Set([...(step.skipped ?? []), ...page.skipped])].sort();
          await save();
        }
      }
      // A deleted tenant's completion goes to the platform's chain, beside its request.
      const tenantJob = job.kind === "tenant_deletion";
      const completed = {
        sourceEventId: `${job.kind}:${job.id}:complete`,
        action: `compliance.${job.kind}.complete`,
        actor: { kind: AuditActorKind.SERVICE, id: "compliance" },
        target: tenantJob ? { type: "tenant", id: job.tenantId } : { type: "user", id: job.userId },
        correlationId: "",
        details: { job_id: job.id, ...Object.fromEntries(job.steps.map((s) => [`${s.service}_items`, String(s.items)])), ...(skippedCount(job) ? { skipped: String(skippedCount(job)) } : {}) },
      };
      if (job.kind === "erasure") {
        // The completion is recorded under the user's pseudonym while it is still linked, then the
        // link is destroyed; both are idempotent, so a crash before the save below redoes them harmlessly.
        await this.deps.audit?.(scope, completed);
        await this.deps.forgetAuditSubject?.(scope, job.userId);
      }
      job.state = "succeeded";
      job.completeTimeMs = this.deps.clock.nowMs();
      if (job.kind === "export") job.expireTimeMs = this.deps.exportExpiry ? await this.deps.exportExpiry(job.tenantId, job.completeTimeMs) : job.completeTimeMs + DEFAULT_EXPORT_TTL_MS;
      await save();
      if (job.kind !== "erasure") await this.deps.audit?.(tenantJob ? scopeForAdmin(PLATFORM_TENANT) : scope, completed);
      this.deps.logger.info({ tenantId: job.tenantId, jobId: job.id, kind: job.kind, steps: job.steps.map((s) => [s.service, s.items]) }, "privacy job succeeded");
    } catch (err) {
      if (err instanceof JobDeletedError) return this.discard(job);
      job.state = "failed";
      job.error = err instanceof Error ? err.message : String(err);
      this.deps.logger.warn({ err, tenantId: job.tenantId, jobId: job.id }, "privacy job failed; retried when requested again or at the next start");
      await save().catch((e: unknown) => this.deps.logger.warn({ err: e, jobId: job.id }, "privacy job state not saved"));
    }
  }
}

/**
 * The stored job was deleted (EXPIRED) while this run went on: an erasure or tenant deletion took
 * the user's exports away. Nothing more is saved for it.
 */
export class JobDeletedError extends Error {
  constructor(jobId: string) {
    super(`privacy job ${jobId} was deleted while it ran`);
  }
}

/** Held conversations the job passed over, over all its steps. */
function skippedCount(job: PrivacyJobRecord): number {
  return job.steps.reduce((n, s) => n + (s.skipped?.length ?? 0), 0);
}
