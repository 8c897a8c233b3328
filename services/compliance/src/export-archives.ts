import { AuditActorKind } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import type { Clock } from "@caas/shared/clock";
import type { Logger } from "@caas/shared/logger";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import type { ArchiveDeleteReason, PrivacyJobRecord, PrivacyJobStore } from "./ports/privacy-job-store.js";
import type { ErasurePart, SelfAudit } from "./privacy-jobs.js";

/** Due archives deleted per store query. */
const EXPIRY_PAGE = 100;

/** Export jobs an erasure reads per call (a user makes at most one export a day: EXPORT_REUSE_MS). */
const ERASURE_SCAN = 1000;

/** Archives an erasure deletes per call (each is one job saved). */
const ERASURE_PAGE = 20;

/** Removes an export's objects from the blob store (media's DeleteExport): the archive and the named entries outside it. */
export type ExportDeleter = (tenantId: string, exportId: string, paths: string[]) => Promise<void>;

export interface ExportArchivesDeps {
  store: PrivacyJobStore;
  remove: ExportDeleter;
  /** The tenant's archive lifetime (its retention policy's export_max_age, else the operator's default). */
  ttlOf(tenantId: string): Promise<number>;
  clock: Clock;
  logger: Logger;
  /** Records each deletion in the tenant's audit chain (none when absent). */
  audit?: SelfAudit;
}

/**
 * The lifetime of export archives: a succeeded export is given an expiry time (completion plus the
 * tenant's archive lifetime); due archives are deleted by the retention sweep, and an erasure
 * deletes every export of the erased user. Either way the blob objects go first and the job is
 * then saved EXPIRED with the reason, so a crash in between only repeats an idempotent delete.
 */
export class ExportArchives {
  constructor(private readonly deps: ExportArchivesDeps) {}

  /** When a job completing at `completeTimeMs` loses its archive. */
  async expireTimeFor(tenantId: string, completeTimeMs: number): Promise<number> {
    return completeTimeMs + (await this.deps.ttlOf(tenantId));
  }

  /** Deletes the due archives of one tenant or (no tenantId) every tenant; with dryRun only counts them (at most one page). */
  async expireDue(opts: { tenantId?: string; dryRun?: boolean } = {}): Promise<number> {
    let count = 0;
    for (;;) {
      const due = await this.deps.store.dueToExpire({ nowMs: this.deps.clock.nowMs(), limit: EXPIRY_PAGE, ...(opts.tenantId ? { tenantId: opts.tenantId } : {}) });
      if (opts.dryRun) return due.length;
      for (const job of due) {
        await this.delete(job, "retention");
        count++;
      }
      if (due.length < EXPIRY_PAGE) return count;
    }
  }

  /** The erasure step that deletes every export archive of the user (finished, failed or unfinished); the cursor only says "more". */
  readonly erasurePart: ErasurePart = async (tenantId, userId) => {
    const jobs = await this.deps.store.ofUser(scopeForAdmin(tenantId), "export", userId, ERASURE_SCAN);
    const left = jobs.filter((j) => j.state !== "expired");
    const page = left.slice(0, ERASURE_PAGE);
    for (const job of page) await this.delete(job, "erasure");
    return { items: page.length, next: left.length > page.length ? "more" : "" };
  };

  /** The tenant deletion step that deletes every export archive of the tenant, whoever asked for it; the cursor only says "more". */
  readonly tenantPart: ErasurePart = async (tenantId) => {
    const page = await this.deps.store.openOfKind(scopeForAdmin(tenantId), "export", ERASURE_PAGE + 1);
    for (const job of page.slice(0, ERASURE_PAGE)) await this.delete(job, "erasure");
    return { items: Math.min(page.length, ERASURE_PAGE), next: page.length > ERASURE_PAGE ? "more" : "" };
  };

  private async delete(job: PrivacyJobRecord, reason: ArchiveDeleteReason): Promise<void> {
    // A sealed archive's parts were deleted by sealing; an unsealed export still has its entries.
    const sealed = job.steps.some((s) => s.archive);
    await this.deps.remove(job.tenantId, job.id, sealed ? [] : [...new Set(job.steps.flatMap((s) => s.paths ?? []))]);
    const now = this.deps.clock.nowMs();
    const scope = scopeForAdmin(job.tenantId);
    await this.deps.store.save(scope, { ...job, state: "expired", deleteReason: reason, expireTimeMs: reason === "erasure" || job.expireTimeMs === 0 ? now : job.expireTimeMs, updateTimeMs: now });
    await this.deps.audit?.(scope, {
      sourceEventId: `export:${job.id}:delete`,
      action: "compliance.export.delete",
      actor: { kind: AuditActorKind.SERVICE, id: "compliance" },
      target: { type: "user", id: job.userId },
      correlationId: "",
      details: { job_id: job.id, reason },
    });
    this.deps.logger.info({ tenantId: job.tenantId, jobId: job.id, reason }, "export archive deleted");
  }
}
