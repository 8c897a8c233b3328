import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "@caas/shared/clock";
import { createLogger } from "@caas/shared/logger";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import { freshTenantScope } from "@caas/shared/testing";
import { afterAll, describe, expect, it } from "vitest";
import { openPrivacyJobStore } from "../src/audit-stores.js";
import { HELD_ERROR, PrivacyJobRunner, type ErasurePart } from "../src/privacy-jobs.js";

const dir = mkdtempSync(join(tmpdir(), "caas-privacy-jobs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const logger = createLogger({ service: "test", instance: "t", level: "silent" });

/** A paged part over `total` items, `per` a page, recording the cursors it was called with; `failAt` throws once at that page. */
function pagedPart(total: number, per: number, opts: { failAt?: number; onPage?: (page: number) => void } = {}) {
  const cursors: string[] = [];
  let failed = false;
  const part: ErasurePart = async (_tenant, _user, cursor) => {
    cursors.push(cursor);
    const page = cursor === "" ? 0 : Number(cursor);
    opts.onPage?.(page);
    if (page === opts.failAt && !failed) {
      failed = true;
      throw new Error("chat unavailable");
    }
    const end = Math.min((page + 1) * per, total);
    return { items: end - page * per, next: end >= total ? "" : String(page + 1) };
  };
  return { part, cursors };
}

describe("PrivacyJobRunner (SQLite job store)", () => {
  it("saves every page, resumes a stopped job where it stopped after a restart, and never redoes a finished part", async () => {
    const path = join(dir, "resume.db");
    const scope = freshTenantScope();
    const auth = pagedPart(3, 3);
    const ref: { runner?: PrivacyJobRunner } = {};
    const chat = pagedPart(10, 2, { onPage: (page) => void (page === 2 && ref.runner?.stop()) });
    const media = pagedPart(2, 1);
    const search = pagedPart(0, 500);
    const exportsPart = pagedPart(1, 1);
    const parts = { auth: auth.part, chat: chat.part, media: media.part, search: search.part, exports: exportsPart.part };
    const first = await openPrivacyJobStore({ kind: "sqlite", path });
    const runner = (ref.runner = new PrivacyJobRunner({ store: first, parts, clock: systemClock, logger }));
    const job = (await first.create(scope, runner.newErasure(scope.tenantId, "alice"))).job;
    await runner.kick(job);
    // Stopped after the page at cursor "2" was saved: auth done, chat at cursor "3".
    const stopped = (await first.get(scope, job.id))!;
    expect(stopped).toMatchObject({
      state: "running",
      steps: [
        { service: "auth", items: 3, done: true },
        { service: "chat", items: 6, done: false, cursor: "3" },
        { service: "media", items: 0, done: false },
        { service: "search", items: 0, done: false },
        { service: "exports", items: 0, done: false },
      ],
    });
    await first.close();

    // A new process on the same file picks it up at start.
    const second = await openPrivacyJobStore({ kind: "sqlite", path });
    const restarted = new PrivacyJobRunner({ store: second, parts, clock: systemClock, logger });
    await restarted.resumeAll();
    await restarted.idle();
    const done = (await second.get(scopeForAdmin(scope.tenantId), job.id))!;
    expect(done).toMatchObject({
      state: "succeeded",
      steps: [
        { items: 3, done: true },
        { items: 10, done: true, cursor: "" },
        { items: 2, done: true, cursor: "" },
        { items: 0, done: true, cursor: "" },
        { items: 1, done: true, cursor: "" },
      ],
    });
    expect(done.completeTimeMs).toBeGreaterThan(0);
    expect(auth.cursors).toEqual([""]);
    expect(chat.cursors).toEqual(["", "1", "2", "3", "4"]);
    expect([media.cursors, search.cursors]).toEqual([["", "1"], [""]]);
    expect(await second.unfinished(10)).toEqual([]);
    await second.close();
  });

  it("marks a failing job FAILED with the error and finishes it from the failed page when kicked again", async () => {
    const store = await openPrivacyJobStore({ kind: "sqlite", path: join(dir, "fail.db") });
    const scope = freshTenantScope();
    const chat = pagedPart(6, 2, { failAt: 1 });
    const none = pagedPart(0, 1).part;
    const runner = new PrivacyJobRunner({ store, parts: { auth: pagedPart(1, 1).part, chat: chat.part, media: none, search: none, exports: none }, clock: systemClock, logger });
    const job = (await store.create(scope, runner.newErasure(scope.tenantId, "alice"))).job;
    await runner.kick(job);
    const failed = (await store.get(scope, job.id))!;
    expect(failed).toMatchObject({ state: "failed", error: "chat unavailable", steps: [{ done: true }, { items: 2, cursor: "1", done: false }, { done: false }, { done: false }, { done: false }] });
    // A repeated request finds the unfinished job.
    expect((await store.create(scope, runner.newErasure(scope.tenantId, "alice"))).job.id).toBe(job.id);
    await runner.kick(failed);
    expect(await store.get(scope, job.id)).toMatchObject({ state: "succeeded", error: "", steps: [{ done: true }, { items: 6, done: true }, { done: true }, { done: true }, { done: true }] });
    expect(chat.cursors).toEqual(["", "1", "1", "2"]);
    await store.close();
  });

  it("fixes the held conversations when a step starts, records what the part skipped, and fails while the user is held", async () => {
    const store = await openPrivacyJobStore({ kind: "sqlite", path: join(dir, "holds.db") });
    const scope = freshTenantScope();
    const holds = { tenant: false, users: new Set<string>(), conversations: new Set(["c2", "c1"]) };
    const seen: string[][] = [];
    const chat: ErasurePart = async (_tenant, _user, cursor, held) => {
      seen.push(held);
      // A hold placed mid-step does not change the step's held list (its page tokens are bound to it).
      holds.conversations.add("c3");
      return cursor === "" ? { items: 2, next: "p1", skipped: ["c2"] } : { items: 1, next: "", skipped: ["c1"] };
    };
    const none = pagedPart(0, 1).part;
    const runner = new PrivacyJobRunner({ store, parts: { auth: pagedPart(1, 1).part, chat, media: none, search: none, exports: none }, clock: systemClock, logger, holds: async () => holds });
    const job = (await store.create(scope, runner.newErasure(scope.tenantId, "alice"))).job;
    await runner.kick(job);
    expect(await store.get(scope, job.id)).toMatchObject({
      state: "succeeded",
      steps: [{ done: true }, { items: 3, done: true, held: ["c1", "c2"], skipped: ["c1", "c2"] }, { done: true }, { done: true }, { done: true }],
    });
    expect(seen).toEqual([
      ["c1", "c2"],
      ["c1", "c2"],
    ]);

    holds.users.add("bob");
    const held = (await store.create(scope, runner.newErasure(scope.tenantId, "bob"))).job;
    await runner.kick(held);
    expect(await store.get(scope, held.id)).toMatchObject({
      state: "failed",
      error: `${HELD_ERROR} (the user is held)`,
      steps: [{ done: false, items: 0 }, { done: false }, { done: false }, { done: false }, { done: false }],
    });
    await store.close();
  });
});

describe("PrivacyJobRunner and the audit link of an erased user", () => {
  it("records the completion under the still-linked user, then forgets the link, before the job is saved SUCCEEDED; a failed forget fails the job", async () => {
    const store = await openPrivacyJobStore({ kind: "sqlite", path: join(dir, "forget.db") });
    const scope = freshTenantScope();
    const empty = pagedPart(0, 1).part;
    const parts = { auth: empty, chat: empty, media: empty, search: empty, exports: empty };
    const order: string[] = [];
    let failForget = true;
    const runner = new PrivacyJobRunner({
      store,
      parts,
      clock: systemClock,
      logger,
      audit: async (_scope, record) => void order.push(`audit ${record.action} ${record.target.id}`),
      forgetAuditSubject: async (s, userId) => {
        order.push(`forget ${userId} ${(await store.get(s, job.id))!.state}`);
        if (failForget) throw new Error("compliance store unavailable");
      },
    });
    const job = (await store.create(scope, runner.newErasure(scope.tenantId, "alice"))).job;
    await runner.kick(job);
    expect((await store.get(scope, job.id))!.state).toBe("failed");
    failForget = false;
    await runner.kick((await store.get(scope, job.id))!);
    expect((await store.get(scope, job.id))!.state).toBe("succeeded");
    expect(order).toEqual(["audit compliance.erasure.complete alice", "forget alice running", "audit compliance.erasure.complete alice", "forget alice running"]);
    await store.close();
  });
});
