import { randomUUID } from "node:crypto";
import type { Clock } from "@caas/shared/clock";
import type { Logger } from "@caas/shared/logger";
import { scopeForAdmin, type TenantScope } from "@caas/shared/tenant-scope";
import { AuditActorKind } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import type { AuditDraft } from "./audit-appender.js";
import type { HoldSet } from "./domain/retention-policy.js";
import { ARCHIVE_STEP, EXPORT_SERVICES, type ExportSteps } from "./export-job.js";
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
 * content), then the content (chat's messages), the files, and last the search documents (chat's
 * deletes also reach search through the bus; this removes what is indexed now, at once).
 */
export const ERASURE_SERVICES = ["auth", "chat", "media", "search"] as const;

export interface PrivacyJobRunnerDeps {
  store: PrivacyJobStore;
  parts: Record<(typeof ERASURE_SERVICES)[number], ErasurePart>;
  /** Runs export jobs' steps (without it, export jobs fail). */
  exports?: ExportSteps;
  clock: Clock;
  logger: Logger;
  /** Legal holds (none when absent). */
  holds?: HoldLookup;
  /** Records completions in the tenant's audit chain (none when absent). */
  audit?: SelfAudit;
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

  private newJob(tenantId: string, userId: string, kind: PrivacyJobKind, services: readonly string[]): PrivacyJobRecord {
    const now = this.deps.clock.nowMs();
    const steps: JobStep[] = services.map((service) => ({ service, items: 0, done: false, cursor: "" }));
    return { tenantId, id: randomUUID(), kind, userId, state: "running", steps, error: "", createTimeMs: now, updateTimeMs: now, completeTimeMs: 0 };
  }

  /** Starts the job in the background unless it already runs in this process or succeeded; the returned promise settles when this run ends. */
  kick(job: PrivacyJobRecord): Promise<void> {
    if (job.state === "succeeded" || this.stopped) return Promise.resolve();
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

  /** The conversations held in the job's tenant; throws HELD_ERROR when the user or the tenant is held. */
  private async heldConversations(job: PrivacyJobRecord): Promise<string[]> {
    if (!this.deps.holds) return [];
    const holds = await this.deps.holds(job.tenantId);
    if (holds.tenant || holds.users.has(job.userId)) throw new Error(`${HELD_ERROR} (${holds.tenant ? "the whole tenant" : "the user"} is held)`);
    return [...holds.conversations].sort();
  }

  private async run(stored: PrivacyJobRecord): Promise<void> {
    const scope = scopeForAdmin(stored.tenantId);
    const job: PrivacyJobRecord = { ...structuredClone(stored), state: "running", error: "" };
    const save = async () => {
      job.updateTimeMs = this.deps.clock.nowMs();
      await this.deps.store.save(scope, job);
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
        const part = this.deps.parts[step.service as keyof PrivacyJobRunnerDeps["parts"]];
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
      const completed = {
        sourceEventId: `${job.kind}:${job.id}:complete`,
        action: `compliance.${job.kind}.complete`,
        actor: { kind: AuditActorKind.SERVICE, id: "compliance" },
        target: { type: "user", id: job.userId },
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
      await save();
      if (job.kind !== "erasure") await this.deps.audit?.(scope, completed);
      this.deps.logger.info({ tenantId: job.tenantId, jobId: job.id, kind: job.kind, steps: job.steps.map((s) => [s.service, s.items]) }, "privacy job succeeded");
    } catch (err) {
      job.state = "failed";
      job.error = err instanceof Error ? err.message : String(err);
      this.deps.logger.warn({ err, tenantId: job.tenantId, jobId: job.id }, "privacy job failed; retried when requested again or at the next start");
      await save().catch((e: unknown) => this.deps.logger.warn({ err: e, jobId: job.id }, "privacy job state not saved"));
    }
  }
}

/** Held conversations the job passed over, over all its steps. */
function skippedCount(job: PrivacyJobRecord): number {
  return job.steps.reduce((n, s) => n + (s.skipped?.length ?? 0), 0);
}
