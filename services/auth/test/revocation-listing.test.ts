import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@caas/shared/logger";
import { FakeClock } from "@caas/shared/clock";
import { InvalidArgumentError } from "@caas/shared/errors";
import { loadRevocations, RevocationSet } from "@caas/shared/identity/revocations";
import { newId } from "@caas/shared/ids";
import { afterAll, describe, expect, it } from "vitest";
import { RevocationKind } from "@caas/gen/caas/auth/v1/revocation_pb.js";
import { openAuthSqlite } from "../src/adapters/auth-sqlite.js";
import { createSqliteRevocationStore } from "../src/adapters/revocation-store-sqlite.js";
import { listRevocationsPage } from "../src/revocation-listing.js";

describe("ListRevocations pages and the loader verifiers run at start", () => {
  const dir = mkdtempSync(join(tmpdir(), "caas-revocation-listing-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const T0 = Date.UTC(2030, 0, 1);
  const logger = createLogger({ service: "test", instance: "t", level: "silent" });

  async function storeWith(n: number) {
    const store = createSqliteRevocationStore({ db: await openAuthSqlite({ path: join(dir, `${newId()}.db`) }) });
    const sessions: string[] = [];
    for (let i = 0; i < n; i++) {
      const sid = newId();
      sessions.push(sid);
      await store.add({ id: newId(), kind: "session", tenantId: `t${i % 2}`, subjectId: sid, revokeTimeMs: T0, expireTimeMs: T0 + 330_000 });
    }
    await store.add({ id: newId(), kind: "signing-key", tenantId: "", subjectId: "kid-1", revokeTimeMs: T0, expireTimeMs: T0 + 330_000 });
    return { store, sessions };
  }

  it("pages oldest first with an opaque cursor and has_more; 0 means 500; bad cursors are INVALID_ARGUMENT", async () => {
    const clock = new FakeClock(T0 + 1_000);
    const { store, sessions } = await storeWith(4);
    const p1 = await listRevocationsPage(store, clock, "", 2);
    expect(p1.revocations.map((r) => r.subjectId)).toEqual(sessions.slice(0, 2));
    expect(p1.revocations[0]).toMatchObject({ kind: RevocationKind.SESSION, tenantId: "t0" });
    expect(p1.hasMore).toBe(true);
    expect(p1.nextCursor).not.toContain(sessions[1]!);
    const p2 = await listRevocationsPage(store, clock, p1.nextCursor, 2);
    expect(p2.revocations.map((r) => r.subjectId)).toEqual(sessions.slice(2, 4));
    expect(p2.hasMore).toBe(true);
    const p3 = await listRevocationsPage(store, clock, p2.nextCursor, 2);
    expect(p3.revocations.map((r) => [r.kind, r.subjectId])).toEqual([[RevocationKind.SIGNING_KEY, "kid-1"]]);
    expect(p3.hasMore).toBe(false);
    const empty = await listRevocationsPage(store, clock, p3.nextCursor, 2);
    expect(empty).toMatchObject({ revocations: [], hasMore: false, nextCursor: p3.nextCursor });
    expect((await listRevocationsPage(store, clock, "", 0)).revocations).toHaveLength(5);
    await expect(listRevocationsPage(store, clock, "bm9wZQ", 2)).rejects.toThrow(InvalidArgumentError);
    // Expired entries are gone from every page.
    clock.advance(330_000);
    expect((await listRevocationsPage(store, clock, "", 0)).revocations).toEqual([]);
  });

  it("loads every page into a deny-set that then refuses the revoked sessions' tokens", async () => {
    const clock = new FakeClock(T0 + 1_000);
    const { store, sessions } = await storeWith(5);
    const set = new RevocationSet(clock);
    const cursors: string[] = [];
    const added = await loadRevocations({
      set,
      page: (cursor) => {
        cursors.push(cursor);
        return listRevocationsPage(store, clock, cursor, 2);
      },
      logger,
    });
    expect(added).toBe(6);
    expect(cursors).toHaveLength(3);
    const token = (tenantId: string, sessionId: string, issuedAtSec = T0 / 1000 - 10) => ({ tenantId, userId: "u", sessionId, kid: "kid-2", issuedAtSec });
    for (const [i, sid] of sessions.entries()) expect(set.denies(token(`t${i % 2}`, sid))).toBe(true);
    // Another tenant's session id, a token issued after the revocation, another session: allowed.
    expect(set.denies(token("t1", sessions[0]!))).toBe(false);
    expect(set.denies(token("t0", sessions[0]!, T0 / 1000 + 1))).toBe(false);
    expect(set.denies(token("t0", newId()))).toBe(false);
    expect(set.denies({ ...token("t0", newId()), kid: "kid-1" })).toBe(true);
  });
});
