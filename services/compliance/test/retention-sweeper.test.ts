import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditActorKind } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import { freshTenantScope } from "@caas/shared/testing";
import { afterAll, describe, expect, it } from "vitest";
import { openAuditStore, openRetentionStore } from "../src/audit-stores.js";
import type { CutPage, RetentionCut, RetentionParts } from "../src/retention-parts.js";
import { RetentionSweeper } from "../src/retention-sweeper.js";
import { auditWorld, logger, T0 } from "./support/audit-world.js";

const dir = mkdtempSync(join(tmpdir(), "caas-retention-sweeper-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Chat and auth as the sweeper sees them: each tenant one conversation; the cuts asked for are recorded. */
function fakeParts(settings: Map<string, number>) {
  const cuts: [string, RetentionCut][] = [];
  const parts: RetentionParts = {
    async tenantMessageRetention(tenantId) {
      return settings.get(tenantId) ?? 0;
    },
    async tenantsWithMessageRetention(after) {
      // Two pages of one tenant each, in id order, as auth's ListTenantRetention pages.
      const ids = [...settings.keys()].filter((id) => id > after).sort();
      return { ids: ids.slice(0, 1), next: ids.length > 1 ? ids[0]! : "" };
    },
    async conversations(tenantId) {
      return { ids: [`conv-of-${tenantId}`], next: "" };
    },
    async conversationExists() {
      return true;
    },
    async applyCut(tenantId, _conversationId, cut): Promise<CutPage> {
      cuts.push([tenantId, cut]);
      return { messagesExpired: 1, messagesHeld: 0, mediaIds: [], next: "" };
    },
    async expireMedia() {
      return 0;
    },
  };
  return { parts, cuts };
}

describe("RetentionSweeper with TenantSettings.message_retention", () => {
  it("sweeps tenants that only have the setting, once each also when they have a policy, with the narrower tenant age", async () => {
    const backend = { kind: "sqlite" as const, path: join(dir, "sweep.db") };
    const [audit, store] = [await openAuditStore(backend), await openRetentionStore(backend)];
    const { appender, clock } = auditWorld(audit);
    const [onlySetting, both, onlyPolicy, neither] = [freshTenantScope(), freshTenantScope(), freshTenantScope(), freshTenantScope()];
    const { parts, cuts } = fakeParts(
      new Map([
        [onlySetting.tenantId, 60_000],
        [both.tenantId, 3_600_000],
      ]),
    );
    const policy = (tenantId: string, messageMaxAgeMs: number) => ({ tenantId, conversationId: "", messageMaxAgeMs, mediaMaxAgeMs: 0, exportMaxAgeMs: 0, updateTimeMs: T0 });
    await store.putPolicy(both, policy(both.tenantId, 120_000)); // narrower than its setting: the policy wins
    await store.putPolicy(onlyPolicy, policy(onlyPolicy.tenantId, 7_200_000));
    const sweeper = new RetentionSweeper({ store, parts, appender, clock, logger });
    await sweeper.sweepAll();
    const now = clock.nowMs();
    const byTenant = new Map(cuts.map(([t, c]) => [t, c.messageBeforeMs]));
    expect(cuts).toHaveLength(3);
    expect(byTenant.get(onlySetting.tenantId)).toBe(now - 60_000);
    expect(byTenant.get(both.tenantId)).toBe(now - 120_000);
    expect(byTenant.get(onlyPolicy.tenantId)).toBe(now - 7_200_000);
    expect(byTenant.has(neither.tenantId)).toBe(false);

    // A setting narrower than the tenant's policy wins.
    cuts.length = 0;
    await store.putPolicy(both, policy(both.tenantId, 7_200_000));
    await sweeper.run(both.tenantId, { actor: { kind: AuditActorKind.SERVICE, id: "test" } });
    expect(cuts.map(([, c]) => c.messageBeforeMs)).toEqual([now - 3_600_000]);
    await Promise.all([audit.close(), store.close()]);
  });
});
