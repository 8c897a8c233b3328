import type { JobStep, PrivacyJobRecord } from "../ports/privacy-job-store.js";

/** The unique key that allows one unfinished job per tenant, kind and user. */
export function openKeyOf(job: Pick<PrivacyJobRecord, "id" | "kind" | "userId" | "state">): string {
  return job.state === "succeeded" || job.state === "expired" ? `done|${job.id}` : `${job.kind}|${job.userId}`;
}

/** Refuses records no adapter stores (a programming error, not bad input). */
export function checkJob(tenantId: string, job: PrivacyJobRecord): void {
  if (job.tenantId !== tenantId) throw new RangeError("the job belongs to another tenant than the scope");
  // A tenant deletion concerns no one user.
  if (job.id.length === 0 || (job.userId.length === 0) !== (job.kind === "tenant_deletion")) throw new RangeError("a job needs an id, and a user id unless it deletes the tenant");
  if (!["running", "succeeded", "failed", "expired"].includes(job.state)) throw new RangeError(`unknown job state ${job.state}`);
  if (!Number.isSafeInteger(job.expireTimeMs) || job.expireTimeMs < 0) throw new RangeError("expireTimeMs is a time in ms, 0 for none");
  if (!["", "retention", "erasure"].includes(job.deleteReason)) throw new RangeError(`unknown delete reason ${job.deleteReason}`);
}

/** Steps as stored (JSON text in SQLite, an array in MongoDB). */
export function stepsOf(value: unknown): JobStep[] {
  const steps = (typeof value === "string" ? JSON.parse(value) : value) as JobStep[];
  return steps.map((s) => ({
    service: s.service,
    items: s.items,
    done: s.done,
    cursor: s.cursor,
    ...(s.held?.length ? { held: [...s.held] } : {}),
    ...(s.skipped?.length ? { skipped: [...s.skipped] } : {}),
    ...(s.paths ? { paths: s.paths } : {}),
    ...(s.archive ? { archive: s.archive } : {}),
  }));
}
