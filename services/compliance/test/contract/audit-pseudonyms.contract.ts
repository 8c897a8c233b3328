import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toJson } from "@bufbuild/protobuf";
import { AuditActorKind, AuditEventSchema, AuditSubjectForm } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import { GetAuditPublicKeysResponseSchema } from "@caas/gen/caas/compliance/v1/audit_service_pb.js";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PSEUDONYM_PREFIX } from "../../src/audit-pseudonyms.js";
import { apiKeyOf, auditWorld, draft, exportText } from "../support/audit-world.js";
import type { AuditBackendUnderTest } from "../support/backends.js";

const VERIFIER = join(import.meta.dirname, "../../bin/verify-audit-log.mjs");
const scratch = mkdtempSync(join(tmpdir(), "caas-audit-psn-"));

/** The offline verifier's verdict on an export. */
function offlineOk(exported: string, keysJson: string): boolean {
  const name = Math.random().toString(36).slice(2);
  writeFileSync(join(scratch, `${name}.jsonl`), exported);
  writeFileSync(join(scratch, `${name}.keys.json`), keysJson);
  const run = spawnSync(process.execPath, [VERIFIER, join(scratch, `${name}.jsonl`), join(scratch, `${name}.keys.json`)], { encoding: "utf8" });
  return run.status === 0 && (JSON.parse(run.stdout) as { ok: boolean }).ok;
}

const uid = (name: string) => `${name}-${Math.random().toString(36).slice(2, 10)}`;

/** Pseudonymised audit records on every AuditStore adapter: links, resolution, erasure unlinking, tenants apart. */
export function auditPseudonymContract(name: string, open: () => Promise<AuditBackendUnderTest>): void {
  describe(`audit pseudonyms: ${name}`, () => {
    let inst: AuditBackendUnderTest;
    beforeEach(async () => {
      inst = await open();
    });
    afterEach(() => inst.close());

    /** Everything the store holds about a tenant that a reader could see: every record as stored, and the link of each user named. */
    const storedText = async (scope: ReturnType<typeof freshTenantScope>, users: string[]) =>
      JSON.stringify([
        (await inst.b.range(scope, 1n, 1000n, 1000)).map((e) => toJson(AuditEventSchema, e)),
        await Promise.all(users.map((u) => auditWorld(inst.b, { pseudonymise: true }).pseudonyms!.linkOf(scope, u))),
      ]);

    it("records name users by pseudonym; lists show and filter by the user id while the link exists", async () => {
      const scope = freshTenantScope();
      const [alice, bob] = [uid("alice"), uid("bob")];
      const world = auditWorld(inst.a, { pseudonymise: true });
      const legacy = auditWorld(inst.a);
      // A record made before pseudonyms keeps the raw id; a filter on the user still finds it.
      await legacy.appender.append(scope, draft("p0", { actor: { kind: AuditActorKind.USER, id: alice } }));
      await world.appender.append(scope, draft("p1", { actor: { kind: AuditActorKind.USER, id: alice }, details: { user_id: alice, reason: "SIGN_OUT" } }));
      await world.appender.append(scope, draft("p2", { actor: { kind: AuditActorKind.USER, id: bob }, action: "chat.member.ban", target: { type: "user", id: alice } }));
      await world.appender.append(scope, draft("p3", { actor: { kind: AuditActorKind.SERVICE, id: "auth" }, target: { type: "session", id: "s9" } }));
      const stored = await inst.b.range(scope, 1n, 10n, 10);
      expect(stored.map((e) => e.subjectForm)).toEqual([AuditSubjectForm.UNSPECIFIED, AuditSubjectForm.PSEUDONYM, AuditSubjectForm.PSEUDONYM, AuditSubjectForm.PSEUDONYM]);
      const psn = (await world.pseudonyms!.linkOf(scope, alice))!.pseudonym;
      expect(psn).toMatch(/^psn_[0-9a-f]{32}$/);
      expect([stored[1]!.actor?.id, stored[1]!.details.find((d) => d.key === "user_id")?.value, stored[2]!.target?.id]).toEqual([psn, psn, psn]);
      expect(stored[3]!.actor?.id).toBe("auth");
      expect(JSON.stringify(stored.slice(1).map((e) => toJson(AuditEventSchema, e)))).not.toContain(alice);

      const listed = await world.service.listAuditEvents({ actorId: alice, pageSize: 0, pageToken: "", action: "", targetId: "", tenantId: "" } as never, apiKeyOf(scope));
      expect(listed.events.map((e) => [e.sourceEventId, e.actor?.id, e.details.find((d) => d.key === "user_id")?.value])).toEqual([
        ["p0", alice, undefined],
        ["p1", alice, alice],
      ]);
      const targeted = await world.service.listAuditEvents({ targetId: alice, pageSize: 0, pageToken: "", actorId: "", action: "", tenantId: "" } as never, apiKeyOf(scope));
      expect(targeted.events.map((e) => [e.sourceEventId, e.actor?.id, e.target?.id])).toEqual([["p2", bob, alice]]);
      const exported = await exportText(world.service, apiKeyOf(scope));
      const line = exported.split("\n").find((l) => l.includes('"p1"'))!;
      expect(JSON.parse(line)).toMatchObject({ event: { actor: { id: psn } }, subjects: { [psn]: alice } });
    });

    it("erasure destroys the link: the chain still verifies online and offline and the user id is nowhere in the store", async () => {
      const scope = freshTenantScope();
      const [alice, bob] = [uid("alice"), uid("bob")];
      const world = auditWorld(inst.a, { pseudonymise: true, checkpointEvery: 3 });
      for (let i = 0; i < 7; i++) {
        world.clock.advance(1000);
        const actor = { kind: AuditActorKind.USER, id: i % 2 ? alice : bob };
        await world.appender.append(scope, draft(`e${i}`, { eventTimeMs: world.clock.nowMs(), actor, target: { type: "user", id: i % 2 ? bob : alice }, details: { sender_id: alice } }));
      }
      const psn = (await world.pseudonyms!.linkOf(scope, alice))!.pseudonym;
      const before = await inst.b.range(scope, 1n, 100n, 100);
      world.clock.advance(1000);
      expect(await world.pseudonyms!.forget(scope, alice)).toBe(true);
      expect(await world.pseudonyms!.forget(scope, alice)).toBe(false);

      expect(await inst.b.range(scope, 1n, 100n, 100)).toEqual(before);
      const verdict = await world.service.verifyAuditLog({ startPosition: 0n, endPosition: 0n } as never, apiKeyOf(scope));
      expect(verdict).toMatchObject({ ok: true, recordsChecked: 7n });
      const keysJson = JSON.stringify(toJson(GetAuditPublicKeysResponseSchema, create(GetAuditPublicKeysResponseSchema, await world.service.getAuditPublicKeys({}, apiKeyOf(scope)))));
      const exported = await exportText(world.service, apiKeyOf(scope));
      expect(offlineOk(exported, keysJson)).toBe(true);
      expect(exported).not.toContain(alice);
      expect(exported).toContain(bob);
      expect(await storedText(scope, [alice, bob])).not.toContain(alice);
      expect(await inst.b.usersOf(scope, [psn])).toEqual(new Map());

      // Readers see the pseudonym; a filter on the erased user id finds nothing, on the pseudonym everything.
      const page = { pageSize: 0, pageToken: "", action: "", tenantId: "" };
      expect((await world.service.listAuditEvents({ ...page, actorId: alice, targetId: "" } as never, apiKeyOf(scope))).events).toEqual([]);
      const byPsn = await world.service.listAuditEvents({ ...page, actorId: psn, targetId: "" } as never, apiKeyOf(scope));
      expect(byPsn.events.map((e) => [e.actor?.id, e.target?.id])).toEqual([
        [psn, bob],
        [psn, bob],
        [psn, bob],
      ]);
    });

    it("a late record about an erased user is unlinked; a new user with the same id later gets a new link", async () => {
      const scope = freshTenantScope();
      const alice = uid("alice");
      const world = auditWorld(inst.a, { pseudonymise: true });
      const as = (id: string, t: number) => draft(id, { eventTimeMs: t, actor: { kind: AuditActorKind.USER, id: alice } });
      const first = await world.appender.append(scope, as("x1", world.clock.nowMs()));
      world.clock.advance(5000);
      await world.pseudonyms!.forget(scope, alice);
      // Delivered after the erasure, made before it (e.g. the user's deletion event).
      const late = await world.appender.append(scope, as("x2", world.clock.nowMs() - 1000));
      expect(late.event.actor?.id.startsWith(PSEUDONYM_PREFIX)).toBe(true);
      expect(late.event.actor?.id).not.toBe(first.event.actor?.id);
      expect(await world.pseudonyms!.linkOf(scope, alice)).toBeUndefined();
      world.clock.advance(1000);
      const reused = await world.appender.append(scope, as("x3", world.clock.nowMs()));
      expect(await world.pseudonyms!.linkOf(scope, alice)).toMatchObject({ pseudonym: reused.event.actor?.id });
      expect(reused.event.actor?.id).not.toBe(first.event.actor?.id);
      expect(await storedText(scope, [])).not.toContain(alice);
    });

    it("a batch names a linked user by one pseudonym; late records of an erased user get one-off pseudonyms each", async () => {
      const scope = freshTenantScope();
      const [alice, bob] = [uid("alice"), uid("bob")];
      const world = auditWorld(inst.a, { pseudonymise: true });
      const by = (id: string, user: string, t: number) => draft(id, { eventTimeMs: t, actor: { kind: AuditActorKind.USER, id: user } });
      await world.appender.append(scope, by("y0", bob, world.clock.nowMs()));
      world.clock.advance(5000);
      await world.pseudonyms!.forget(scope, bob);
      const made = await world.appender.appendBatch(scope, [
        by("y1", alice, world.clock.nowMs()),
        by("y2", bob, world.clock.nowMs() - 1000),
        by("y3", alice, world.clock.nowMs()),
        by("y4", bob, world.clock.nowMs() - 1000),
      ]);
      const [a1, b1, a2, b2] = made.map((r) => r.event.actor!.id);
      expect(a1).toBe((await world.pseudonyms!.linkOf(scope, alice))!.pseudonym);
      expect(a2).toBe(a1);
      expect([b1!.startsWith(PSEUDONYM_PREFIX), b2!.startsWith(PSEUDONYM_PREFIX), b1 === b2]).toEqual([true, true, false]);
      expect(await world.pseudonyms!.linkOf(scope, bob)).toBeUndefined();
      expect(await storedText(scope, [])).not.toContain(bob);
    });

    it("pseudonymises a user id that looks like a pseudonym like any other", async () => {
      const scope = freshTenantScope();
      const lookalike = `${PSEUDONYM_PREFIX}${"ab".repeat(16)}`;
      const world = auditWorld(inst.a, { pseudonymise: true });
      const { event } = await world.appender.append(scope, draft("l1", { actor: { kind: AuditActorKind.USER, id: lookalike } }));
      expect(event.actor?.id).not.toBe(lookalike);
      const page = { pageSize: 0, pageToken: "", action: "", targetId: "", tenantId: "" };
      expect((await world.service.listAuditEvents({ ...page, actorId: lookalike } as never, apiKeyOf(scope))).events.map((e) => e.actor?.id)).toEqual([lookalike]);
      await world.pseudonyms!.forget(scope, lookalike);
      expect(await storedText(scope, [])).not.toContain(lookalike);
    });

    it("two instances linking one user at once agree on one pseudonym", async () => {
      const scope = freshTenantScope();
      const alice = uid("alice");
      const candidate = (n: number) => ({ userId: alice, pseudonym: `${PSEUDONYM_PREFIX}${String(n).repeat(32)}`, key: new Uint8Array(32).fill(n), createTimeMs: n });
      const [a, b] = await Promise.all([inst.a.linkSubject(scope, "subject-1", candidate(1)), inst.b.linkSubject(scope, "subject-1", candidate(2))]);
      expect(a).toEqual(b);
      expect(await inst.a.linkSubject(scope, "subject-1", candidate(3))).toEqual(a);
      expect(await inst.b.subjectOf(scope, "subject-1")).toEqual(a);
    });

    it("keeps tenants apart: links, resolution and erasure", async () => {
      const [scope, other] = [freshTenantScope(), freshTenantScope()];
      const alice = uid("alice");
      const mine = auditWorld(inst.a, { pseudonymise: true });
      const theirs = auditWorld(inst.b, { pseudonymise: true });
      const a1 = await mine.appender.append(scope, draft("s1", { actor: { kind: AuditActorKind.USER, id: alice } }));
      const b1 = await theirs.appender.append(other, draft("s1", { actor: { kind: AuditActorKind.USER, id: alice } }));
      expect(a1.event.actor?.id).not.toBe(b1.event.actor?.id);
      expect(await inst.a.usersOf(other, [a1.event.actor!.id])).toEqual(new Map());
      await theirs.pseudonyms!.forget(other, alice);
      expect(await inst.a.usersOf(scope, [a1.event.actor!.id])).toEqual(new Map([[a1.event.actor!.id, alice]]));
      expect(await theirs.pseudonyms!.linkOf(other, alice)).toBeUndefined();
    });
  });
}
