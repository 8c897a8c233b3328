import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "@caas/shared/clock";
import { createLogger } from "@caas/shared/logger";
import { freshTenantScope } from "@caas/shared/testing";
import { afterAll, describe, expect, it } from "vitest";
import { openPrivacyJobStore } from "../src/audit-stores.js";
import { DEFAULT_EXPORT_TTL_MS, EXPORT_MAX_ENTRIES, EXPORT_TOO_LARGE, ExportSteps, PART_FLUSH_BYTES, type ExportArchiveSink, type ExportPart } from "../src/export-job.js";
import { ExportArchives } from "../src/export-archives.js";
import { PrivacyJobRunner } from "../src/privacy-jobs.js";

const dir = mkdtempSync(join(tmpdir(), "caas-export-steps-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const logger = createLogger({ service: "test", instance: "t", level: "silent" });

/** A part of `pages` pages of `perPage` lines of `lineBytes` bytes each; records the cursors asked for. */
function pagedPart(pages: number, perPage: number, lineBytes: number, opts: { files?: boolean; onPage?: (page: number) => void } = {}) {
  const cursors: string[] = [];
  const part: ExportPart = async (_t, _u, _e, cursor) => {
    cursors.push(cursor);
    const page = cursor === "" ? 0 : Number(cursor);
    opts.onPage?.(page);
    const lines = Array.from({ length: perPage }, (_, i) => JSON.stringify({ page, i, pad: "x".repeat(Math.max(0, lineBytes - 30)) }));
    return { lines, files: opts.files ? [`media/files/f${page}`] : [], next: page + 1 >= pages ? "" : String(page + 1) };
  };
  return { part, cursors };
}

const noErasure = {
  auth: async () => ({ items: 0, next: "" }),
  chat: async () => ({ items: 0, next: "" }),
  media: async () => ({ items: 0, next: "" }),
  search: async () => ({ items: 0, next: "" }),
  exports: async () => ({ items: 0, next: "" }),
};

/** The archive as a map of stored parts; records the biggest part and every seal. */
function memorySink() {
  const parts = new Map<string, Buffer>();
  const seals: string[][] = [];
  const discarded: string[][] = [];
  const sink: ExportArchiveSink = {
    async discard(_t, _e, paths) {
      discarded.push(paths);
      for (const p of paths) parts.delete(p);
    },
    async putPart(_t, _e, path, content) {
      parts.set(path, Buffer.from(content));
    },
    async seal(_t, _e, paths) {
      seals.push(paths);
      return { size: 1, sha256: "ab", entries: paths.length + 1 };
    },
  };
  return { sink, parts, seals, discarded };
}

describe("export job steps", () => {
  it("buffers pages into parts of about PART_FLUSH_BYTES, saves after each part, and resumes after a stop without losing or repeating lines", async () => {
    const path = join(dir, "resume.db");
    const scope = freshTenantScope();
    const lineBytes = 1000;
    const perPage = 300; // ~300 KB a page: a part holds 4 pages
    const ref: { runner?: PrivacyJobRunner } = {};
    const chat = pagedPart(10, perPage, lineBytes, { onPage: (p) => void (p === 5 && ref.runner?.stop()) });
    const media = pagedPart(2, 1, 100, { files: true });
    const one = pagedPart(1, 1, 100);
    const { sink, parts, seals } = memorySink();
    const steps = () => new ExportSteps({ parts: { auth: one.part, chat: chat.part, media: media.part, compliance: one.part }, sink, nowMs: () => Date.now() });
    const first = await openPrivacyJobStore({ kind: "sqlite", path });
    const runner = (ref.runner = new PrivacyJobRunner({
      store: first,
      parts: noErasure,
      exports: steps(),
      clock: systemClock,
      logger,
    }));
    const job = (await first.create(scope, runner.newExport(scope.tenantId, "alice"))).job;
    await runner.kick(job);
    const stopped = (await first.get(scope, job.id))!;
    // Pages 0-3 made part 1 (saved, cursor "4"); pages 4-5 were fetched but never written, so not saved.
    expect(stopped.state).toBe("running");
    expect(stopped.steps[1]).toMatchObject({ service: "chat", items: 4 * perPage, done: false, cursor: "4", paths: ["chat/part-000001.jsonl"] });
    await first.close();

    const second = await openPrivacyJobStore({ kind: "sqlite", path });
    const restarted = new PrivacyJobRunner({
      store: second,
      parts: noErasure,
      exports: steps(),
      clock: systemClock,
      logger,
    });
    await restarted.resumeAll();
    await restarted.idle();
    const done = (await second.get(scope, job.id))!;
    expect(done.state).toBe("succeeded");
    expect(done.steps.map((s) => [s.service, s.items, s.done])).toEqual([
      ["auth", 1, true],
      ["chat", 10 * perPage, true],
      ["media", 2, true],
      ["compliance", 1, true],
      ["archive", 9, true],
    ]);
    expect(done.steps[4]!.archive).toEqual({ size: 1, sha256: "ab" });
    expect(chat.cursors).toEqual(["", "1", "2", "3", "4", "5", "4", "5", "6", "7", "8", "9"]);
    // Every line once, in order, across the parts; no part much past the flush size.
    const chatLines = ["chat/part-000001.jsonl", "chat/part-000002.jsonl", "chat/part-000003.jsonl"].flatMap((p) =>
      parts
        .get(p)!
        .toString()
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l) as { page: number; i: number }),
    );
    expect(chatLines.map((l) => l.page * perPage + l.i)).toEqual(Array.from({ length: 10 * perPage }, (_, i) => i));
    for (const bytes of parts.values()) expect(bytes.length).toBeLessThan(PART_FLUSH_BYTES + perPage * (lineBytes + 1));
    expect(seals).toEqual([
      [
        "auth/part-000001.jsonl",
        "chat/part-000001.jsonl",
        "chat/part-000002.jsonl",
        "chat/part-000003.jsonl",
        "media/part-000001.jsonl",
        "media/files/f0",
        "media/files/f1",
        "compliance/part-000001.jsonl",
      ],
    ]);
    await second.close();
  });

  it("stops an export whose archive an erasure deleted while it ran, and removes the parts it wrote after; the job stays deleted", async () => {
    const store = await openPrivacyJobStore({ kind: "sqlite", path: join(dir, "erased-while-running.db") });
    const scope = freshTenantScope();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let reached!: () => void;
    const atGate = new Promise<void>((r) => (reached = r));
    // Pages of ~1.1 MB: each is written as its own part; the second waits until the erasure ran.
    const chat: ExportPart = async (_t, _u, _e, cursor) => {
      const page = cursor === "" ? 0 : Number(cursor);
      if (page === 1) {
        reached();
        await gate;
      }
      return { lines: Array.from({ length: 1100 }, (_, i) => JSON.stringify({ page, i, pad: "x".repeat(1000) })), files: [], next: page + 1 >= 3 ? "" : String(page + 1) };
    };
    const one = pagedPart(1, 1, 100);
    const { sink, parts, seals } = memorySink();
    const runner = new PrivacyJobRunner({
      store,
      parts: noErasure,
      exports: new ExportSteps({ parts: { auth: one.part, chat, media: one.part, compliance: one.part }, sink, nowMs: () => Date.now() }),
      clock: systemClock,
      logger,
    });
    const archives = new ExportArchives({ store, remove: (t, e, paths) => sink.discard(t, e, paths), ttlOf: async () => DEFAULT_EXPORT_TTL_MS, clock: systemClock, logger });
    const job = (await store.create(scope, runner.newExport(scope.tenantId, "alice"))).job;
    const run = runner.kick(job);
    await atGate;
    expect([...parts.keys()]).toEqual(["auth/part-000001.jsonl", "chat/part-000001.jsonl"]);
    // The user's erasure deletes their exports: what the job had saved, then the job is EXPIRED.
    expect(await archives.erasurePart(scope.tenantId, "alice", "", [])).toEqual({ items: 1, next: "" });
    expect(parts.size).toBe(0);
    release();
    await run;
    // The export wrote its next part, could not save over the deleted job, and removed what it wrote.
    expect(parts.size).toBe(0);
    expect(seals).toEqual([]);
    expect(await store.get(scope, job.id)).toMatchObject({ state: "expired", deleteReason: "erasure" });
    await store.close();
  });

  it("fails the job with the error of a failing part and finishes it when kicked again", async () => {
    const store = await openPrivacyJobStore({ kind: "sqlite", path: join(dir, "fail.db") });
    const scope = freshTenantScope();
    let failures = 1;
    const flaky: ExportPart = async () => {
      if (failures-- > 0) throw new Error("media unavailable");
      return { lines: ['{"kind":"media"}'], files: [], next: "" };
    };
    const { sink, seals } = memorySink();
    const none: ExportPart = async () => ({ lines: [], files: [], next: "" });
    const exports = new ExportSteps({ parts: { auth: none, chat: none, media: flaky, compliance: none }, sink, nowMs: () => Date.now() });
    const runner = new PrivacyJobRunner({ store, parts: noErasure, exports, clock: systemClock, logger });
    const job = (await store.create(scope, runner.newExport(scope.tenantId, "alice"))).job;
    await runner.kick(job);
    expect(await store.get(scope, job.id)).toMatchObject({ state: "failed", error: "media unavailable" });
    await runner.kick((await store.get(scope, job.id))!);
    expect(await store.get(scope, job.id)).toMatchObject({ state: "succeeded", error: "" });
    // Services with nothing to say write no part.
    expect(seals).toEqual([["media/part-000001.jsonl"]]);
    await store.close();
  });

  it("fails an export over EXPORT_MAX_ENTRIES with a clear error, deletes what it gathered and starts over when retried", async () => {
    const store = await openPrivacyJobStore({ kind: "sqlite", path: join(dir, "too-large.db") });
    const scope = freshTenantScope();
    const { sink, seals, discarded, parts } = memorySink();
    const one: ExportPart = async () => ({ lines: ['{"kind":"profile"}'], files: [], next: "" });
    // 100 files a page: the page that brings the entries (one auth part, the files, the media part) past the limit fails the job.
    let pages = 0;
    const media: ExportPart = async (_t, _u, _e, cursor) => {
      const page = cursor === "" ? 0 : Number(cursor);
      pages++;
      return { lines: ['{"kind":"media"}'], files: Array.from({ length: 100 }, (_, i) => `media/files/m${page * 100 + i}`), next: String(page + 1) };
    };
    const exports = new ExportSteps({ parts: { auth: one, chat: one, media, compliance: one }, sink, nowMs: () => Date.now() });
    const runner = new PrivacyJobRunner({ store, parts: noErasure, exports, clock: systemClock, logger });
    const job = (await store.create(scope, runner.newExport(scope.tenantId, "alice"))).job;
    await runner.kick(job);
    const failed = (await store.get(scope, job.id))!;
    expect(failed).toMatchObject({ state: "failed", error: EXPORT_TOO_LARGE });
    expect(failed.error).toContain(String(EXPORT_MAX_ENTRIES));
    expect(pages).toBe(Math.ceil((EXPORT_MAX_ENTRIES - 2) / 100));
    // Everything gathered went (the two saved parts, and every file copied, also of the page that went over); nothing was sealed.
    expect(discarded).toHaveLength(1);
    expect(discarded[0]!.length).toBe(2 + pages * 100);
    expect(new Set(discarded[0]).size).toBe(discarded[0]!.length);
    expect([...parts.keys()]).toEqual([]);
    expect(seals).toEqual([]);
    // The steps start over, so a retry does not reference deleted entries.
    expect(failed.steps.every((s) => s.items === 0 && !s.done && s.cursor === "" && (s.paths ?? []).length === 0)).toBe(true);
    await store.close();
  });
});
