import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "@caas/shared/clock";
import { createLogger } from "@caas/shared/logger";
import { freshTenantScope } from "@caas/shared/testing";
import { afterAll, describe, expect, it } from "vitest";
import { openPrivacyJobStore } from "../src/audit-stores.js";
import type { HoldSet } from "../src/domain/retention-policy.js";
import { PrivacyJobRunner, type ErasurePart, type SelfAudit } from "../src/privacy-jobs.js";
import { PLATFORM_TENANT } from "../src/audit-recorder.js";

const dir = mkdtempSync(join(tmpdir(), "caas-tenant-deletion-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const logger = createLogger({ service: "test", instance: "t", level: "silent" });
const none: ErasurePart = async () => ({ items: 0, next: "" });
const noHolds = (): HoldSet => ({ tenant: false, users: new Set(), conversations: new Set() });

/** A part that removes `total` items `per` call and answers "more" until none is left (as search, media and auth do). */
function draining(total: number, per: number, onCall?: (left: number) => void) {
  let left = total;
  const calls: string[] = [];
  const part: ErasurePart = async (_tenant, user, cursor) => {
    calls.push(`${user}|${cursor}`);
    onCall?.(left);
    const n = Math.min(per, left);
    left -= n;
    return { items: n, next: left > 0 ? "more" : "" };
  };
  return { part, calls };
}

describe("tenant deletion jobs (PrivacyJobRunner, SQLite job store)", () => {
  it("runs chat, search, media, exports and auth in order with no user, resumes after a restart, and audits the completion in the platform chain", async () => {
    const path = join(dir, "resume.db");
    const scope = freshTenantScope();
    const ref: { runner?: PrivacyJobRunner } = {};
    const chat = draining(2, 2);
    const search = draining(5, 2, (left) => void (left === 3 && ref.runner?.stop()));
    const media = draining(1, 100);
    const auth = draining(3, 200);
    const exportsPart = draining(2, 1);
    const tenantParts = { chat: chat.part, search: search.part, media: media.part, exports: exportsPart.part, auth: auth.part };
    const erasure = { auth: none, chat: none, media: none, search: none, exports: none };
    const audits: { tenantId: string; action: string; target: unknown }[] = [];
    const audit: SelfAudit = async (s, r) => void audits.push({ tenantId: s.tenantId, action: r.action, target: r.target });
    const first = await openPrivacyJobStore({ kind: "sqlite", path });
    const runner = (ref.runner = new PrivacyJobRunner({ store: first, parts: erasure, tenantParts, clock: systemClock, logger, holds: async () => noHolds(), audit }));
    const job = (await first.create(scope, runner.newTenantDeletion(scope.tenantId))).job;
    expect(job).toMatchObject({ kind: "tenant_deletion", userId: "", state: "running" });
    await runner.kick(job);
    expect((await first.get(scope, job.id))!.steps.map((s) => [s.service, s.items, s.done])).toEqual([
      ["chat", 2, true],
      ["search", 4, false],
      ["media", 0, false],
      ["exports", 0, false],
      ["auth", 0, false],
    ]);
    // Asking for the tenant's deletion again finds this job (one unfinished deletion per tenant).
    expect((await first.create(scope, runner.newTenantDeletion(scope.tenantId))).job.id).toBe(job.id);
    await first.close();

    const second = await openPrivacyJobStore({ kind: "sqlite", path });
    const restarted = new PrivacyJobRunner({ store: second, parts: erasure, tenantParts, clock: systemClock, logger, holds: async () => noHolds(), audit });
    await restarted.resumeAll();
    await restarted.idle();
    const done = (await second.get(scope, job.id))!;
    expect(done.state).toBe("succeeded");
    expect(done.steps.map((s) => [s.service, s.items, s.done])).toEqual([
      ["chat", 2, true],
      ["search", 5, true],
      ["media", 1, true],
      ["exports", 2, true],
      ["auth", 3, true],
    ]);
    // Chat's shredding ran once; search went on where it stopped; nobody was asked about a user.
    expect(chat.calls).toEqual(["|"]);
    expect(search.calls).toEqual(["|", "|more", "|more"]);
    expect(audits).toEqual([{ tenantId: PLATFORM_TENANT, action: "compliance.tenant_deletion.complete", target: { type: "tenant", id: scope.tenantId } }]);
    await second.close();
  });

  it("fails before its next step when a legal hold is placed in the tenant meanwhile, and goes on once it is released", async () => {
    const store = await openPrivacyJobStore({ kind: "sqlite", path: join(dir, "held.db") });
    const scope = freshTenantScope();
    let holds = noHolds();
    const chat = draining(1, 1, () => void (holds = { ...noHolds(), conversations: new Set(["c1"]) }));
    const later = draining(1, 10);
    const tenantParts = { chat: chat.part, search: later.part, media: none, exports: none, auth: none };
    const runner = new PrivacyJobRunner({ store, parts: { auth: none, chat: none, media: none, search: none, exports: none }, tenantParts, clock: systemClock, logger, holds: async () => holds });
    const job = (await store.create(scope, runner.newTenantDeletion(scope.tenantId))).job;
    await runner.kick(job);
    const failed = (await store.get(scope, job.id))!;
    expect(failed.state).toBe("failed");
    expect(failed.error).toMatch(/legal hold/);
    expect(later.calls).toEqual([]);
    holds = noHolds();
    await runner.kick(failed);
    expect((await store.get(scope, job.id))!.state).toBe("succeeded");
    expect(later.calls).toEqual(["|"]);
    await store.close();
  });
});
