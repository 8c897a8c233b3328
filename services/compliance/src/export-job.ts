import type { JobStep, PrivacyJobRecord } from "./ports/privacy-job-store.js";

/** One page of a service's export: JSON lines, the archive paths of files the service copied into the export, and the cursor to go on from ("" when done). */
export interface ExportPage {
  lines: string[];
  files: string[];
  next: string;
}

/** A service's part of an export, called again with the returned cursor until it comes back "". */
export type ExportPart = (tenantId: string, userId: string, exportId: string, cursor: string) => Promise<ExportPage>;

/** Where an export's archive is built (media's blob store, through MediaInternalService). */
export interface ExportArchiveSink {
  /** Stores one JSON-lines part of the export under `path`, replacing what is there. */
  putPart(tenantId: string, exportId: string, path: string, content: Uint8Array): Promise<void>;
  /** Packs the entries, in order, into the archive with its manifest and removes the parts; idempotent. */
  seal(tenantId: string, exportId: string, paths: string[], aboutJson: string): Promise<{ size: number; sha256: string; entries: number }>;
  /** Deletes the named entries of an export and its archive, if sealed; idempotent. */
  discard(tenantId: string, exportId: string, paths: string[]): Promise<void>;
}

/** The services an export gathers from, in order, then "archive" (packing). */
export const EXPORT_SERVICES = ["auth", "chat", "media", "compliance"] as const;

/** The step that packs the archive. */
export const ARCHIVE_STEP = "archive";

/** A part is written once its buffered lines reach this many bytes (or the service is done). */
export const PART_FLUSH_BYTES = 1024 * 1024;

/** How long an export archive is kept after its job succeeded when neither the tenant nor the operator says otherwise (7 days). */
export const DEFAULT_EXPORT_TTL_MS = 7 * 86_400_000;

/**
 * Archive entries at most, manifest.json not counted (media's SealExport limit, and the job record
 * keeps every path). Each uploaded file is one entry; messages and other records fill a part of
 * about PART_FLUSH_BYTES each, so in practice only the number of files reaches it.
 */
export const EXPORT_MAX_ENTRIES = 20_000;

/** Why an export over EXPORT_MAX_ENTRIES fails (the job's error). */
export const EXPORT_TOO_LARGE =
  `the export needs more than ${EXPORT_MAX_ENTRIES} archive entries (each uploaded file is one; messages and other records take one per ~1 MiB): ` +
  "exports this large are not supported, and what was gathered was deleted";

export interface ExportStepsDeps {
  parts: Record<(typeof EXPORT_SERVICES)[number], ExportPart>;
  sink: ExportArchiveSink;
  nowMs(): number;
}

/**
 * Runs the steps of an export job. A service's pages are buffered (at most about
 * PART_FLUSH_BYTES plus one page) and written as one part `<service>/part-NNNNNN.jsonl`; the step's
 * cursor, item count and paths are saved only after a part is stored, so a job resumed after a
 * restart fetches again the pages of a part that was never written, and a part rewritten after a
 * crash gets the same name (the count of parts saved so far). Memory stays bounded whatever the
 * user holds; the last step packs the archive.
 */
export class ExportSteps {
  constructor(private readonly deps: ExportStepsDeps) {}

  /** Runs one step to its end, saving after each part; returns early (unsaved pages are fetched again later) when `stopped()` turns true. */
  async run(job: PrivacyJobRecord, step: JobStep, save: () => Promise<void>, stopped: () => boolean): Promise<void> {
    if (step.service === ARCHIVE_STEP) return this.seal(job, step, save);
    const part = this.deps.parts[step.service as keyof ExportStepsDeps["parts"]];
    if (!part) throw new Error(`no export part for service ${step.service}`);
    const paths = (step.paths ??= []);
    let cursor = step.cursor;
    let lines: string[] = [];
    let files: string[] = [];
    let bytes = 0;
    while (!step.done) {
      if (stopped()) return;
      const page = await part(job.tenantId, job.userId, job.id, cursor);
      lines.push(...page.lines);
      files.push(...page.files);
      bytes += page.lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
      cursor = page.next;
      if (entriesOf(job) + files.length + (lines.length > 0 ? 1 : 0) > EXPORT_MAX_ENTRIES) return this.tooLarge(job, [...job.steps.flatMap((s) => s.paths ?? []), ...files]);
      if (cursor !== "" && bytes < PART_FLUSH_BYTES) continue;
      if (lines.length > 0) {
        const path = `${step.service}/part-${String(paths.filter((p) => p.startsWith(`${step.service}/part-`)).length + 1).padStart(6, "0")}.jsonl`;
        await this.deps.sink.putPart(job.tenantId, job.id, path, Buffer.from(lines.map((l) => `${l}\n`).join("")));
        paths.push(path);
      }
      paths.push(...files);
      step.items += lines.length;
      step.cursor = cursor;
      step.done = cursor === "";
      await save();
      lines = [];
      files = [];
      bytes = 0;
    }
  }

  /** Deletes every entry the job's steps name and its archive, if sealed (media's DeleteExport removes both); idempotent. */
  async discardAll(job: PrivacyJobRecord): Promise<void> {
    await this.deps.sink.discard(job.tenantId, job.id, [...new Set(job.steps.flatMap((s) => s.paths ?? []))]);
  }

  /** Deletes everything the export gathered (parts saved and files copied, also those not yet saved), resets its steps so a retry starts over, and fails the job. */
  private async tooLarge(job: PrivacyJobRecord, gathered: string[]): Promise<never> {
    await this.deps.sink.discard(job.tenantId, job.id, [...new Set(gathered)]);
    for (const s of job.steps) Object.assign(s, { items: 0, done: false, cursor: "", paths: [] });
    throw new Error(EXPORT_TOO_LARGE);
  }

  private async seal(job: PrivacyJobRecord, step: JobStep, save: () => Promise<void>): Promise<void> {
    const paths = job.steps.flatMap((s) => s.paths ?? []);
    const about = {
      jobId: job.id,
      tenantId: job.tenantId,
      userId: job.userId,
      requestTime: new Date(job.createTimeMs).toISOString(),
      sealTime: new Date(this.deps.nowMs()).toISOString(),
      items: Object.fromEntries(job.steps.filter((s) => s.service !== ARCHIVE_STEP).map((s) => [s.service, s.items])),
    };
    const sealed = await this.deps.sink.seal(job.tenantId, job.id, paths, JSON.stringify(about));
    step.archive = { size: sealed.size, sha256: sealed.sha256 };
    step.items = sealed.entries;
    step.done = true;
    await save();
  }
}

/** Archive entries the job's steps recorded so far. */
function entriesOf(job: PrivacyJobRecord): number {
  return job.steps.reduce((n, s) => n + (s.paths?.length ?? 0), 0);
}
