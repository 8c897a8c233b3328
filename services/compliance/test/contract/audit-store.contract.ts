import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { create, toJson } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { AuditBreakReason } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import { GetAuditPublicKeysResponseSchema } from "@caas/gen/caas/compliance/v1/audit_service_pb.js";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { chainHash, GENESIS_HASH } from "../../src/domain/audit-chain.js";
import { apiKeyOf, auditWorld, draft, exportText } from "../support/audit-world.js";
import type { AuditBackendUnderTest } from "../support/backends.js";

const VERIFIER = join(import.meta.dirname, "../../bin/verify-audit-log.mjs");
const scratch = mkdtempSync(join(tmpdir(), "caas-audit-export-"));

/** Runs the offline verifier on an export and the published keys, as an auditor would. */
function offline(exported: string, keysJson: string): { status: number | null; out: { ok: boolean; brokenPosition: string; reason: string } } {
  const name = `${Math.random().toString(36).slice(2)}`;
  writeFileSync(join(scratch, `${name}.jsonl`), exported);
  writeFileSync(join(scratch, `${name}.keys.json`), keysJson);
  const run = spawnSync(process.execPath, [VERIFIER, join(scratch, `${name}.jsonl`), join(scratch, `${name}.keys.json`)], { encoding: "utf8" });
  return { status: run.status, out: JSON.parse(run.stdout || "{}") as { ok: boolean; brokenPosition: string; reason: string } };
}

/** The AuditStore contract, run against every adapter (two handles on one backend, like two compliance processes). */
export function auditStoreContract(name: string, open: () => Promise<AuditBackendUnderTest>): void {
  describe(`AuditStore contract: ${name}`, () => {
    let inst: AuditBackendUnderTest;

    beforeEach(async () => {
      inst = await open();
    });
    afterEach(() => inst.close());

    it("chains appends densely from the genesis, and a redelivered source event is the same record", async () => {
      const scope = freshTenantScope();
      const { appender } = auditWorld(inst.a);
      const first = await appender.append(scope, draft("e1"));
      const second = await appender.append(scope, draft("e2", { action: "auth.user.delete" }));
      expect([first.event.position, second.event.position]).toEqual([1n, 2n]);
      expect(first.event.hash).toEqual(chainHash(GENESIS_HASH, first.event));
      expect(second.event.hash).toEqual(chainHash(first.event.hash, second.event));
      const again = await auditWorld(inst.b).appender.append(scope, draft("e1", { action: "something.else" }));
      expect(again.duplicate).toBe(true);
      expect(again.event).toEqual(first.event);
      expect(await inst.b.head(scope)).toEqual({ position: 2n, hash: second.event.hash });
      expect(await inst.b.range(scope, 1n, 10n, 10)).toEqual([first.event, second.event]);
      expect(await inst.b.findBySource(scope, "e2")).toEqual(second.event);
      expect(await inst.a.findBySource(scope, "nope")).toBeUndefined();
    });

    it("lets one insert win a position; the loser is told to re-read the head", async () => {
      const scope = freshTenantScope();
      const { event } = await auditWorld(inst.a).appender.append(scope, draft("w1"));
      const rival = { ...event, sourceEventId: "w2" };
      expect(await inst.b.insert(scope, rival)).toEqual({ kind: "position-taken" });
      expect(await inst.b.insert(scope, { ...event })).toEqual({ kind: "duplicate", existing: event });
    });

    it("keeps tenants apart: chains, sources, lists, checkpoints", async () => {
      const scope = freshTenantScope();
      const other = freshTenantScope();
      const { appender } = auditWorld(inst.a, { checkpointEvery: 1 });
      await appender.append(scope, draft("same-id"));
      const theirs = await appender.append(other, draft("same-id", { actor: { kind: 1, id: "mallory" } }));
      expect(theirs.duplicate).toBe(false);
      expect(theirs.event.position).toBe(1n);
      expect((await inst.b.list(other, {}, 0n, 10)).events.map((e) => e.actor?.id)).toEqual(["mallory"]);
      expect(await inst.b.list(other, { actorId: "alice" }, 0n, 10)).toEqual({ events: [] });
      expect((await inst.b.checkpoints(other, 0n, 10n)).map((c) => c.tenantId)).toEqual([other.tenantId]);
      await expect(inst.a.insert(other, { ...theirs.event, tenantId: scope.tenantId, position: 9n })).rejects.toThrow(RangeError);
    });

    it("lists by actor, action, target and time, oldest first, after a position", async () => {
      const scope = freshTenantScope();
      const { appender } = auditWorld(inst.a);
      await appender.append(scope, draft("l1", { eventTimeMs: 1000 }));
      await appender.append(scope, draft("l2", { eventTimeMs: 2000, actor: { kind: 1, id: "bob" }, action: "chat.member.ban", target: { type: "user", id: "carol", conversationId: "c1" } }));
      await appender.append(scope, draft("l3", { eventTimeMs: 3000 }));
      const ids = async (f: Parameters<typeof inst.a.list>[1], after = 0n) => (await inst.b.list(scope, f, after, 10)).events.map((e) => e.sourceEventId);
      expect(await ids({})).toEqual(["l1", "l2", "l3"]);
      expect(await ids({}, 1n)).toEqual(["l2", "l3"]);
      expect(await ids({ actorId: "bob" })).toEqual(["l2"]);
      expect(await ids({ action: "auth.session.revoke" })).toEqual(["l1", "l3"]);
      expect(await ids({ targetId: "carol" })).toEqual(["l2"]);
      expect(await ids({ startTimeMs: 2000, endTimeMs: 3000 })).toEqual(["l2"]);
      const two = await inst.b.list(scope, {}, 0n, 2);
      expect({ positions: two.events.map((e) => e.position), resumeAfter: two.resumeAfter }).toEqual({ positions: [1n, 2n], resumeAfter: 2n });
      expect((await inst.b.list(scope, {}, 2n, 2)).resumeAfter).toBeUndefined();
      await expect(inst.b.list(scope, {}, 0n, 0)).rejects.toThrow(RangeError);
    });

    it("signs a checkpoint every N records and on demand; a second one at a position is ignored", async () => {
      const scope = freshTenantScope();
      const { appender, keys } = auditWorld(inst.a, { checkpointEvery: 3 });
      for (let i = 1; i <= 7; i++) await appender.append(scope, draft(`c${i}`));
      expect((await inst.b.checkpoints(scope, 0n, 100n)).map((c) => c.position)).toEqual([3n, 6n]);
      expect(await appender.checkpointTouched()).toBe(1);
      expect(await appender.checkpointTouched()).toBe(0);
      const all = await inst.b.checkpoints(scope, 0n, 100n);
      expect(all.map((c) => c.position)).toEqual([3n, 6n, 7n]);
      expect(all[2]!.headHash).toEqual((await inst.a.head(scope)).hash);
      expect((await inst.b.checkpointAtOrBefore(scope, 5n))?.position).toBe(3n);
      expect(await inst.b.insertCheckpoint(scope, all[0]!)).toBe(false);
      const published = await keys.publicKeys();
      expect(published).toHaveLength(1);
      expect(all.every((c) => c.keyId === published[0]!.keyId)).toBe(true);
      // A second instance uses the stored key rather than making its own.
      await auditWorld(inst.b).keys.sign(all[0]!);
      expect(await inst.a.listKeys()).toHaveLength(1);
    });

    it("two instances storing a new tenant's first checkpoints at once store both (no lost upsert race)", async () => {
      const source = freshTenantScope();
      const { appender } = auditWorld(inst.a, { checkpointEvery: 1 });
      for (let i = 1; i <= 2; i++) await appender.append(source, draft(`k${i}`));
      const signed = await inst.a.checkpoints(source, 0n, 100n);
      expect(signed.map((c) => Number(c.position))).toEqual([1, 2]);
      // Eight new tenants, each getting its first two checkpoints from two instances at once: both
      // create the tenant's checkpoint head, one of them loses the insert. (One pair per tenant:
      // FerretDB applies concurrent $max updates of one document without isolation, so more
      // writers per tenant would test that instead.)
      const scopes = Array.from({ length: 8 }, () => freshTenantScope());
      const stored = await Promise.all(scopes.flatMap((scope) => signed.map((c, i) => (i === 0 ? inst.a : inst.b).insertCheckpoint(scope, { ...c, tenantId: scope.tenantId }))));
      expect(stored).toEqual(scopes.flatMap(() => [true, true]));
      for (const scope of scopes) {
        expect((await inst.b.checkpoints(scope, 0n, 100n)).map((c) => Number(c.position))).toEqual([1, 2]);
        expect((await inst.a.checkpointAtOrBefore(scope, 100n))?.position).toBe(2n);
      }
    });

    it("two instances appending to one tenant concurrently build one dense chain with no fork", async () => {
      const scope = freshTenantScope();
      const a = auditWorld(inst.a, { checkpointEvery: 10 });
      const b = auditWorld(inst.b, { checkpointEvery: 10 });
      // Each event is delivered to both instances (a redelivery after a rebalance) as well as new ones to each.
      const ids = Array.from({ length: 20 }, (_, i) => `k${i}`);
      await Promise.all([
        ...ids.map((id) => a.appender.append(scope, draft(id))),
        ...ids.map((id) => b.appender.append(scope, draft(id))),
        ...ids.map((id) => b.appender.append(scope, draft(`${id}-b`))),
      ]);
      const rows = await inst.a.range(scope, 1n, 1000n, 1000);
      expect(rows.map((r) => r.position)).toEqual(Array.from({ length: 40 }, (_, i) => BigInt(i + 1)));
      expect(new Set(rows.map((r) => r.sourceEventId)).size).toBe(40);
      const verdict = await a.service.verifyAuditLog({ startPosition: 0n, endPosition: 0n } as never, apiKeyOf(scope));
      expect(verdict).toMatchObject({ ok: true, recordsChecked: 40n });
    });

    describe("tampering is detected by VerifyAuditLog and by the offline verifier", () => {
      const N = 12;
      let scope: ReturnType<typeof freshTenantScope>;
      let world: ReturnType<typeof auditWorld>;
      let keysJson: string;

      beforeEach(async () => {
        scope = freshTenantScope();
        world = auditWorld(inst.a, { checkpointEvery: 5 });
        for (let i = 1; i <= N; i++) {
          world.clock.advance(1000);
          await world.appender.append(scope, draft(`t${i}`, { eventTimeMs: world.clock.nowMs(), target: { type: "user", id: `u${i}` } }));
        }
        keysJson = JSON.stringify(toJson(GetAuditPublicKeysResponseSchema, create(GetAuditPublicKeysResponseSchema, await world.service.getAuditPublicKeys({}, apiKeyOf(scope)))));
      });

      const check = async (expected: { position: bigint; reason: AuditBreakReason; offline: string }) => {
        const online = await world.service.verifyAuditLog({ startPosition: 0n, endPosition: 0n } as never, apiKeyOf(scope));
        expect({ ok: online.ok, position: online.brokenPosition, reason: AuditBreakReason[online.reason] }).toEqual({
          ok: false,
          position: expected.position,
          reason: AuditBreakReason[expected.reason],
        });
        const run = offline(await exportText(world.service, apiKeyOf(scope)), keysJson);
        expect(run.status).toBe(1);
        expect({ ok: run.out.ok, position: run.out.brokenPosition, reason: run.out.reason }).toEqual({ ok: false, position: String(expected.position), reason: expected.offline });
      };

      it("an untouched log verifies online and offline, whole and in ranges", async () => {
        const online = await world.service.verifyAuditLog({ startPosition: 0n, endPosition: 0n } as never, apiKeyOf(scope));
        expect(online).toMatchObject({ ok: true, recordsChecked: BigInt(N), checkpointsChecked: 2n, signedThrough: 10n });
        const ranged = await world.service.verifyAuditLog({ startPosition: 7n, endPosition: 9n } as never, apiKeyOf(scope));
        // From the checkpoint at 5: positions 6-9.
        expect(ranged).toMatchObject({ ok: true, recordsChecked: 4n, signedThrough: 5n });
        const whole = offline(await exportText(world.service, apiKeyOf(scope)), keysJson);
        expect(whole).toEqual({ status: 0, out: expect.objectContaining({ ok: true, recordsChecked: String(N) }) });
        const part = await exportText(world.service, apiKeyOf(scope), { startPosition: 8n, endPosition: 11n });
        expect(part.split("\n").filter((l) => l.includes('"type":"record"'))).toHaveLength(6);
        expect(offline(part, keysJson)).toEqual({ status: 0, out: expect.objectContaining({ ok: true, recordsChecked: "6" }) });
      });

      it("an edited field: CHANGED at its position", async () => {
        await inst.tamper.editAction(scope.tenantId, 7, "auth.user.create");
        await check({ position: 7n, reason: AuditBreakReason.CHANGED, offline: "changed" });
      });

      it("a deleted record: MISSING at its position", async () => {
        await inst.tamper.deleteAt(scope.tenantId, 4);
        await check({ position: 4n, reason: AuditBreakReason.MISSING, offline: "missing" });
      });

      it("a deleted last record: MISSING, since a signed checkpoint covers it", async () => {
        await inst.tamper.deleteAt(scope.tenantId, 10);
        await inst.tamper.deleteAt(scope.tenantId, 11);
        await inst.tamper.deleteAt(scope.tenantId, 12);
        await check({ position: 10n, reason: AuditBreakReason.MISSING, offline: "missing" });
      });

      it("two swapped records: REORDERED at the first", async () => {
        await inst.tamper.swap(scope.tenantId, 8, 9);
        await check({ position: 8n, reason: AuditBreakReason.REORDERED, offline: "reordered" });
      });

      it("two swapped distant records: REORDERED at the first", async () => {
        await inst.tamper.swap(scope.tenantId, 2, 6);
        await check({ position: 2n, reason: AuditBreakReason.REORDERED, offline: "reordered" });
      });

      it("an inserted record: INSERTED at its position", async () => {
        await inst.tamper.insertAt(scope.tenantId, 6);
        await check({ position: 6n, reason: AuditBreakReason.INSERTED, offline: "inserted" });
      });

      it("a chain rewritten consistently after an edit: CHECKPOINT_MISMATCH at the signed head it contradicts", async () => {
        // An attacker who edits record 3 and recomputes every later hash keeps the chain
        // self-consistent; the signed checkpoint at 5 still names the original head.
        const rows = await inst.a.range(scope, 1n, 100n, 100);
        let prev = rows[1]!.hash;
        await inst.tamper.editAction(scope.tenantId, 3, "auth.user.create");
        for (const row of rows.slice(2)) {
          const changed = { ...row, action: row.position === 3n ? "auth.user.create" : row.action, eventTime: row.eventTime ?? timestampFromMs(0) };
          const hash = chainHash(prev, changed);
          await inst.tamper.setHash(scope.tenantId, Number(row.position), hash);
          prev = hash;
        }
        await check({ position: 5n, reason: AuditBreakReason.CHECKPOINT_MISMATCH, offline: "checkpoint_mismatch" });
      });

      it("a checkpoint with a forged signature: BAD_SIGNATURE at its position", async () => {
        await inst.tamper.forgeCheckpointSignature(scope.tenantId, 5);
        await check({ position: 5n, reason: AuditBreakReason.BAD_SIGNATURE, offline: "bad_signature" });
      });
    });
  });
}
