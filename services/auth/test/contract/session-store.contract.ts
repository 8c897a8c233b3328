import type { TenantScope } from "@caas/shared/tenant-scope";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SessionRecord } from "../../src/ports/session-store.js";
import type { Instances, OpenInstances } from "../support/backends.js";

const forged = { tenantId: "forged" } as never;
const DAY = 86_400_000;

let seq = 0;
function sessionId(): string {
  seq++;
  return `0190a000-0000-7000-8000-${String(seq).padStart(12, "0")}`;
}

function session(scope: TenantScope, o: Partial<SessionRecord> = {}): SessionRecord {
  return {
    tenantId: scope.tenantId,
    id: sessionId(),
    userId: "alice",
    deviceId: "phone",
    deviceName: "Pixel",
    scopes: [],
    mfaSatisfied: false,
    createTimeMs: 1000,
    lastSeenTimeMs: 1000,
    expireTimeMs: 1000 + DAY,
    ...o,
  };
}

/** The SessionStore contract, run against every adapter. */
export function sessionStoreContract(name: string, open: OpenInstances): void {
  describe(`SessionStore contract: ${name}`, () => {
    let s: Instances;
    let scope: TenantScope;
    beforeEach(async () => {
      s = await open();
      scope = freshTenantScope();
    });
    afterEach(async () => {
      await s.close();
    });

    it("creates a session and reads it back from another instance", async () => {
      const rec = session(scope, { scopes: ["chat.read"], mfaSatisfied: true });
      await s.a.sessions.create(scope, rec, { hash: "h1", expireTimeMs: rec.expireTimeMs });
      expect(await s.b.sessions.get(scope, rec.id)).toEqual(rec);
      expect(await s.b.sessions.get(scope, sessionId())).toBeUndefined();
    });

    it("rotates a refresh token once; the used token then answers reused, an unknown one unknown", async () => {
      const rec = session(scope);
      await s.a.sessions.create(scope, rec, { hash: "h1", expireTimeMs: rec.expireTimeMs });
      const rotated = await s.b.sessions.rotate(scope, "h1", { hash: "h2", expireTimeMs: 5000 + DAY }, 5000);
      expect(rotated).toEqual({ kind: "rotated", session: { ...rec, lastSeenTimeMs: 5000, expireTimeMs: 5000 + DAY } });
      expect(await s.a.sessions.rotate(scope, "h1", { hash: "h3", expireTimeMs: 6000 + DAY }, 6000)).toMatchObject({ kind: "reused", session: { id: rec.id } });
      // A reuse changes nothing: the successor still works.
      expect(await s.a.sessions.rotate(scope, "h3", { hash: "h4", expireTimeMs: 1 }, 6000)).toEqual({ kind: "unknown" });
      expect(await s.a.sessions.rotate(scope, "h2", { hash: "h5", expireTimeMs: 7000 + DAY }, 7000)).toMatchObject({ kind: "rotated", session: { lastSeenTimeMs: 7000 } });
      expect(await s.a.sessions.rotate(scope, "nope", { hash: "h6", expireTimeMs: 1 }, 7000)).toEqual({ kind: "unknown" });
    });

    it("finds a session by any unexpired token of its family, and treats an expired token as unknown", async () => {
      const rec = session(scope);
      await s.a.sessions.create(scope, rec, { hash: "h1", expireTimeMs: 9000 });
      await s.a.sessions.rotate(scope, "h1", { hash: "h2", expireTimeMs: 20_000 }, 5000);
      expect((await s.b.sessions.findByRefreshHash(scope, "h1", 6000))?.id).toBe(rec.id);
      expect((await s.b.sessions.findByRefreshHash(scope, "h2", 6000))?.id).toBe(rec.id);
      expect(await s.b.sessions.findByRefreshHash(scope, "h1", 9000)).toBeUndefined();
      expect(await s.b.sessions.findByRefreshHash(scope, "nope", 6000)).toBeUndefined();
      expect(await s.b.sessions.rotate(scope, "h2", { hash: "h3", expireTimeMs: 40_000 }, 20_000)).toEqual({ kind: "unknown" });
    });

    it("lets exactly one of concurrent uses of one token win", async () => {
      const rec = session(scope);
      await s.a.sessions.create(scope, rec, { hash: "race", expireTimeMs: rec.expireTimeMs });
      const results = await Promise.all([
        s.a.sessions.rotate(scope, "race", { hash: "next-a", expireTimeMs: 2 * DAY }, 2000),
        s.b.sessions.rotate(scope, "race", { hash: "next-b", expireTimeMs: 2 * DAY }, 2000),
      ]);
      expect(results.map((r) => r.kind).sort()).toEqual(["reused", "rotated"]);
    });

    it("revokes idempotently, keeping the first time and reason", async () => {
      const rec = session(scope);
      await s.a.sessions.create(scope, rec, { hash: "h1", expireTimeMs: rec.expireTimeMs });
      expect(await s.b.sessions.revoke(scope, rec.id, 2000, "sign-out")).toEqual({ ...rec, revokeTimeMs: 2000, revokeReason: "sign-out" });
      expect(await s.a.sessions.revoke(scope, rec.id, 3000, "refresh-token-reused")).toMatchObject({ revokeTimeMs: 2000, revokeReason: "sign-out" });
      expect(await s.a.sessions.revoke(scope, sessionId(), 3000, "sign-out")).toBeUndefined();
    });

    it("lists a user's active sessions most recently seen first, with a keyset", async () => {
      const recs = [
        session(scope, { lastSeenTimeMs: 3000 }),
        session(scope, { lastSeenTimeMs: 5000 }),
        session(scope, { lastSeenTimeMs: 5000 }),
        session(scope, { lastSeenTimeMs: 4000 }),
        session(scope, { lastSeenTimeMs: 6000 }),
        session(scope, { lastSeenTimeMs: 7000, expireTimeMs: 9000 }),
        session(scope, { userId: "bob", lastSeenTimeMs: 8000 }),
      ];
      for (const [i, r] of recs.entries()) await s.a.sessions.create(scope, r, { hash: `h${i}`, expireTimeMs: r.expireTimeMs });
      await s.a.sessions.revoke(scope, recs[4]!.id, 6500, "sign-out");
      const q = { userId: "alice", nowMs: 10_000 };
      const all = await s.b.sessions.listActive(scope, { ...q, limit: 10 });
      expect(all.map((r) => r.id)).toEqual([recs[2]!.id, recs[1]!.id, recs[3]!.id, recs[0]!.id]);
      const first = await s.b.sessions.listActive(scope, { ...q, limit: 1 });
      const rest = await s.b.sessions.listActive(scope, { ...q, limit: 10, after: { lastSeenTimeMs: first[0]!.lastSeenTimeMs, id: first[0]!.id } });
      expect([...first, ...rest].map((r) => r.id)).toEqual(all.map((r) => r.id));
      // Before its expiry the short session is listed too.
      expect((await s.b.sessions.listActive(scope, { ...q, nowMs: 8000, limit: 10 })).map((r) => r.id)[0]).toBe(recs[5]!.id);
    });

    it("keeps tenants apart: another tenant's sessions and tokens are not found and not touched", async () => {
      const other = freshTenantScope();
      const theirs = session(other);
      await s.a.sessions.create(other, theirs, { hash: "shared-hash", expireTimeMs: theirs.expireTimeMs });
      const mine = session(scope);
      await s.a.sessions.create(scope, mine, { hash: "mine", expireTimeMs: mine.expireTimeMs });
      expect(await s.b.sessions.get(scope, theirs.id)).toBeUndefined();
      expect(await s.b.sessions.rotate(scope, "shared-hash", { hash: "x", expireTimeMs: 1 }, 2000)).toEqual({ kind: "unknown" });
      expect(await s.b.sessions.findByRefreshHash(scope, "shared-hash", 2000)).toBeUndefined();
      expect(await s.b.sessions.revoke(scope, theirs.id, 2000, "sign-out")).toBeUndefined();
      expect((await s.b.sessions.listActive(scope, { userId: "alice", nowMs: 2000, limit: 10 })).map((r) => r.id)).toEqual([mine.id]);
      expect(await s.a.sessions.get(other, theirs.id)).toEqual(theirs);
      expect(await s.a.sessions.rotate(other, "shared-hash", { hash: "y", expireTimeMs: 2 * DAY }, 3000)).toMatchObject({ kind: "rotated" });
    });

    it("refuses forged scopes and bad records", async () => {
      const rec = session(scope);
      await expect(s.a.sessions.create(forged, rec, { hash: "h", expireTimeMs: 1 })).rejects.toThrow(TypeError);
      await expect(s.a.sessions.get(forged, rec.id)).rejects.toThrow(TypeError);
      await expect(s.a.sessions.rotate(forged, "h", { hash: "h2", expireTimeMs: 1 }, 1)).rejects.toThrow(TypeError);
      await expect(s.a.sessions.listActive(forged, { userId: "alice", nowMs: 1, limit: 1 })).rejects.toThrow(TypeError);
      await expect(s.a.sessions.create(scope, { ...rec, tenantId: "other" }, { hash: "h", expireTimeMs: 1 })).rejects.toThrow(RangeError);
      await expect(s.a.sessions.create(scope, { ...rec, revokeTimeMs: 5 }, { hash: "h", expireTimeMs: 1 })).rejects.toThrow(RangeError);
      await expect(s.a.sessions.revoke(scope, rec.id, 1, "bored" as never)).rejects.toThrow(RangeError);
      expect(await s.a.sessions.get(scope, rec.id)).toBeUndefined();
    });
  });
}
