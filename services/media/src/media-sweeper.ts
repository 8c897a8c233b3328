import { NotFoundError } from "@caas/shared/errors";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import type { Logger } from "@caas/shared/logger";
import { DEFAULT_UPLOAD_EXPIRY_SECONDS, readyBlobKeyOf, uploadBlobKeyOf, type MediaDeps } from "./media-core.js";
import type { UploadToSweep } from "./ports/media-store.js";

/** How long after its upload form expired an upload may still be completed before the sweeper takes it. */
export const DEFAULT_SWEEP_GRACE_MS = 60 * 60 * 1000;

/** Records one sweeper query takes at a time. */
export const DEFAULT_SWEEP_BATCH = 100;

export interface MediaSweeperOptions {
  deps: Pick<MediaDeps, "store" | "blobs" | "clock" | "uploadExpirySeconds">;
  logger: Logger;
  /** Added to the upload form's lifetime (default DEFAULT_SWEEP_GRACE_MS): slow uploads that started in time, clock skew to S3. */
  graceMs?: number;
  /** Records per store query (default DEFAULT_SWEEP_BATCH). */
  batchSize?: number;
}

/** What one sweep did. */
export interface SweepResult {
  /** Abandoned PENDING records removed, with their bytes. */
  removed: number;
  /** Upload keys of READY or deleted media emptied and closed. */
  closed: number;
  /** Records that failed (left open: the next sweep retries them). */
  failed: number;
}

/**
 * Cleans up after upload forms once they have expired (plus a grace period), when nothing can
 * write their upload keys any more: a PENDING media never completed is removed with whatever
 * was uploaded for it; a READY or deleted media gets its upload key emptied (the form may have
 * been posted again after CompleteUpload or DeleteMedia). Each record is handled once, then
 * closed in the store.
 *
 * Every step is idempotent and bytes go before the record, so a crash, a failure or two media
 * instances sweeping at once leave nothing behind: the other instance's deletes find nothing, a
 * record already removed is not removed twice, and a record whose step failed stays open for the
 * next sweep. A completion racing the removal of its record deletes its own copy
 * (`completeUpload`).
 */
export class MediaSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;

  constructor(private readonly opts: MediaSweeperOptions) {}

  /** Sweeps every `intervalMs` (0: never) from now on; a sweep still running when the next is due is not doubled. */
  start(intervalMs: number): void {
    if (intervalMs <= 0) return;
    this.stopped = false;
    this.timer = setInterval(() => this.kick(), intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for the sweep in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One sweep of everything due by the clock now, in batches until none is left (or a batch made no progress). */
  async sweep(): Promise<SweepResult> {
    const { store, clock } = this.opts.deps;
    const expiryMs = (this.opts.deps.uploadExpirySeconds ?? DEFAULT_UPLOAD_EXPIRY_SECONDS) * 1000;
    const createdBefore = clock.nowMs() - expiryMs - (this.opts.graceMs ?? DEFAULT_SWEEP_GRACE_MS);
    const limit = this.opts.batchSize ?? DEFAULT_SWEEP_BATCH;
    const result: SweepResult = { removed: 0, closed: 0, failed: 0 };
    if (createdBefore <= 0) return result;
    for (;;) {
      const batch = await store.uploadsToSweep({ createdBefore, limit });
      let failed = 0;
      for (const item of batch) {
        if (this.stopped) return result;
        try {
          result[await this.sweepOne(item, createdBefore)]++;
        } catch (err) {
          failed++;
          result.failed++;
          this.opts.logger.warn({ err, tenantId: item.tenantId, mediaId: item.record.id }, "media sweep of one upload failed; the next sweep retries");
        }
      }
      if (batch.length < limit || failed === batch.length) return result;
    }
  }

  private async sweepOne({ tenantId, record }: UploadToSweep, createdBefore: number): Promise<"removed" | "closed"> {
    const { store, blobs } = this.opts.deps;
    const scope = scopeForAdmin(tenantId);
    const uploadKey = uploadBlobKeyOf(record.id);
    if (record.state === "pending" && record.deleteTimeMs === 0) {
      const uploaded = await blobs.stat(scope, uploadKey).catch((err: unknown) => {
        if (err instanceof NotFoundError) return undefined;
        throw err;
      });
      // Bytes first: a crash before the record goes leaves it for the next sweep. A late
      // completion racing this finds nothing to copy, or has copied already and keeps its copy.
      await blobs.delete(scope, uploadKey);
      if (await store.removeAbandoned(scope, record.id, createdBefore)) {
        // Only now that no record can name it: the copy a completion that crashed half way left.
        if (uploaded) await blobs.delete(scope, readyBlobKeyOf(record.id, uploaded.etag));
        return "removed";
      }
      // Completed (or deleted) meanwhile: its upload key was emptied all the same; close it below.
    } else if (record.blobKey !== uploadKey) {
      await blobs.delete(scope, uploadKey);
    }
    await store.closeUpload(scope, record.id);
    return "closed";
  }

  private kick(): void {
    if (this.stopped || this.running) return;
    this.running = this.sweep()
      .then((r) => {
        if (r.removed + r.closed + r.failed > 0) this.opts.logger.info(r, "media uploads swept");
      })
      .catch((err: unknown) => this.opts.logger.warn({ err }, "media sweep failed; the next one retries"))
      .finally(() => {
        this.running = undefined;
      });
  }
}
