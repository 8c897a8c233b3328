import type { FakeClock } from "@caas/shared/clock";
import type { Presence } from "../../src/ports/presence.js";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { forgedScope, type Instances } from "@caas/shared/testing";

/** Both adapters take their time from the injected clock, so the suite drives a fake one. */
export interface PresenceHarness extends Instances<Presence> {
  clock: FakeClock;
}

/** The factory must configure this last-seen retention. */
export const PRESENCE_RETENTION_MS = 3_600_000;

const SEC = 1000;
const info = { instance: "socket-1", device: "web" };

/** The `Presence` contract (ports/presence.ts), run against every adapter. */
export function presenceContract(name: string, factory: () => Promise<PresenceHarness>): void {
  describe(`Presence contract: ${name}`, () => {
    let h: PresenceHarness;
    let t0: number;
    beforeEach(async () => {
      h = await factory();
      t0 = h.clock.nowMs();
    });
    afterEach(async () => {
      await h.close();
    });

    const offline = (userId: string, lastSeenMs: number | null) => ({ userId, online: false, lastSeenMs, connections: [] });

    it("reports a user never seen as offline with no last-seen time", async () => {
      const scope = freshTenantScope();
      expect(await h.a.get(scope, ["nobody"])).toEqual([offline("nobody", null)]);
      expect(await h.a.get(scope, [])).toEqual([]);
    });

    it("reports an added connection, in the order of the requested users", async () => {
      const scope = freshTenantScope();
      await h.a.add(scope, "u1", "c1", 60 * SEC, info);
      const got = await h.b.get(scope, ["u2", "u1", "u2"]);
      expect(got).toEqual([offline("u2", null), { userId: "u1", online: true, lastSeenMs: null, connections: [{ connectionId: "c1", expiresAtMs: t0 + 60 * SEC, info }] }, offline("u2", null)]);
    });

    it("aggregates a user's connections: online while any is alive, last seen when the last left", async () => {
      const scope = freshTenantScope();
      await h.a.add(scope, "u1", "phone", 60 * SEC, { device: "ios" });
      await h.b.add(scope, "u1", "laptop", 60 * SEC, { device: "web" });
      const [both] = await h.a.get(scope, ["u1"]);
      expect(both!.connections.map((c) => [c.connectionId, c.info])).toEqual([
        ["laptop", { device: "web" }],
        ["phone", { device: "ios" }],
      ]);

      h.clock.advance(5 * SEC);
      expect(await h.a.remove(scope, "u1", "phone")).toBe(true);
      const [one] = await h.b.get(scope, ["u1"]);
      expect(one).toMatchObject({ online: true, lastSeenMs: null });
      expect(one!.connections.map((c) => c.connectionId)).toEqual(["laptop"]);

      h.clock.advance(5 * SEC);
      expect(await h.b.remove(scope, "u1", "laptop")).toBe(true);
      expect(await h.a.get(scope, ["u1"])).toEqual([offline("u1", t0 + 10 * SEC)]);
    });

    it("expires the connections of an instance that died without removing them", async () => {
      const scope = freshTenantScope();
      await h.a.add(scope, "u1", "dies", 10 * SEC, info);
      await h.b.add(scope, "u1", "lives", 30 * SEC, info);
      h.clock.advance(15 * SEC);
      const [half] = await h.a.get(scope, ["u1"]);
      expect(half).toMatchObject({ online: true, lastSeenMs: null });
      expect(half!.connections.map((c) => c.connectionId)).toEqual(["lives"]);

      h.clock.advance(15 * SEC); // exactly at the second expiry: gone
      expect(await h.a.get(scope, ["u1"])).toEqual([offline("u1", t0 + 30 * SEC)]);
      // A write after the expiry keeps the expiry as the last-seen time, not the write's time.
      h.clock.advance(60 * SEC);
      expect(await h.b.remove(scope, "u1", "lives")).toBe(false);
      expect(await h.a.get(scope, ["u1"])).toEqual([offline("u1", t0 + 30 * SEC)]);
    });

    it("extends an alive connection on touch and never revives an expired one", async () => {
      const scope = freshTenantScope();
      await h.a.add(scope, "u1", "c1", 10 * SEC, info);
      h.clock.advance(8 * SEC);
      expect(await h.a.touch(scope, "u1", "c1", 10 * SEC)).toBe(true);
      h.clock.advance(8 * SEC);
      const [touched] = await h.b.get(scope, ["u1"]);
      expect(touched!.connections).toEqual([{ connectionId: "c1", expiresAtMs: t0 + 18 * SEC, info }]);

      h.clock.advance(3 * SEC);
      expect(await h.a.touch(scope, "u1", "c1", 10 * SEC)).toBe(false);
      expect(await h.a.get(scope, ["u1"])).toEqual([offline("u1", t0 + 18 * SEC)]);
      expect(await h.a.touch(scope, "u1", "unknown", 10 * SEC)).toBe(false);
      expect(await h.a.touch(scope, "someone-else", "c1", 10 * SEC)).toBe(false);
      expect(await h.a.get(scope, ["someone-else"])).toEqual([offline("someone-else", null)]);
    });

    it("treats adding the same connection again as a replacement, not a second connection", async () => {
      const scope = freshTenantScope();
      await h.a.add(scope, "u1", "c1", 10 * SEC, { device: "old" });
      h.clock.advance(SEC);
      await h.b.add(scope, "u1", "c1", 20 * SEC, { device: "new" });
      const [user] = await h.a.get(scope, ["u1"]);
      expect(user!.connections).toEqual([{ connectionId: "c1", expiresAtMs: t0 + 21 * SEC, info: { device: "new" } }]);
      expect(await h.a.remove(scope, "u1", "c1")).toBe(true);
      expect(await h.a.remove(scope, "u1", "c1")).toBe(false);
      expect(await h.a.get(scope, ["u1"])).toEqual([offline("u1", t0 + SEC)]);
    });

    it("addBounded: concurrent adds through both instances admit exactly the room left, atomically", async () => {
      const scope = freshTenantScope();
      await h.a.add(scope, "u1", "c0", 10 * SEC, info);
      // Room for 3 besides c0 (bound 4): 10 connections racing through two instances, exactly 3 get in.
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? h.a : h.b).addBounded(scope, "u1", `r${i}`, 10 * SEC, info, 4)));
      expect(results.filter(Boolean)).toHaveLength(3);
      const [user] = await h.a.get(scope, ["u1"]);
      expect(user!.connections).toHaveLength(4);
      // A refused add changed nothing; re-adding an admitted connection is a replacement, not another one.
      const admitted = results.flatMap((ok, i) => (ok ? [`r${i}`] : []));
      expect(await h.b.addBounded(scope, "u1", admitted[0]!, 20 * SEC, { device: "again" }, 4)).toBe(true);
      expect(await h.b.addBounded(scope, "u1", "late", 10 * SEC, info, 4)).toBe(false);
      // Room comes back when a connection is removed or expires; other users and tenants have their own.
      await h.a.remove(scope, "u1", "c0");
      expect(await h.b.addBounded(scope, "u1", "late", 10 * SEC, info, 4)).toBe(true);
      h.clock.advance(10 * SEC);
      expect(await h.a.addBounded(scope, "u1", "fresh", 10 * SEC, info, 1)).toBe(false);
      h.clock.advance(10 * SEC);
      expect(await h.a.addBounded(scope, "u1", "fresh", 10 * SEC, info, 1)).toBe(true);
      expect(await h.a.addBounded(scope, "u2", "x", 10 * SEC, info, 1)).toBe(true);
      expect(await h.a.addBounded(freshTenantScope(), "u1", "x", 10 * SEC, info, 1)).toBe(true);
      await expect(h.a.addBounded(scope, "u1", "c9", 10 * SEC, info, 0)).rejects.toThrow(RangeError);
    });

    it("comes back online on a new connection and records a new last-seen time", async () => {
      const scope = freshTenantScope();
      await h.a.add(scope, "u1", "c1", 10 * SEC, info);
      await h.a.remove(scope, "u1", "c1");
      h.clock.advance(60 * SEC);
      await h.b.add(scope, "u1", "c2", 10 * SEC, info);
      expect(await h.a.get(scope, ["u1"])).toMatchObject([{ online: true, lastSeenMs: null }]);
      h.clock.advance(SEC);
      await h.b.remove(scope, "u1", "c2");
      expect(await h.a.get(scope, ["u1"])).toEqual([offline("u1", t0 + 61 * SEC)]);
    });

    it("does not invent a last-seen time for removes of unknown connections", async () => {
      const scope = freshTenantScope();
      expect(await h.a.remove(scope, "ghost", "c1")).toBe(false);
      expect(await h.a.get(scope, ["ghost"])).toEqual([offline("ghost", null)]);
    });

    it("forgets a last-seen time after the retention", async () => {
      const scope = freshTenantScope();
      await h.a.add(scope, "u1", "c1", 10 * SEC, info);
      await h.a.remove(scope, "u1", "c1");
      h.clock.advance(PRESENCE_RETENTION_MS - 1);
      expect(await h.a.get(scope, ["u1"])).toEqual([offline("u1", t0)]);
      h.clock.advance(1);
      expect(await h.a.get(scope, ["u1"])).toEqual([offline("u1", null)]);
    });

    it("never lets the same user id of two tenants leak", async () => {
      const tenantA = freshTenantScope();
      const tenantB = freshTenantScope();
      await h.a.add(tenantA, "u1", "c1", 60 * SEC, info);
      expect(await h.b.get(tenantB, ["u1"])).toEqual([offline("u1", null)]);
      expect(await h.b.touch(tenantB, "u1", "c1", 60 * SEC)).toBe(false);
      expect(await h.b.remove(tenantB, "u1", "c1")).toBe(false);
      await h.b.add(tenantB, "u1", "c2", 60 * SEC, info);
      await h.b.remove(tenantB, "u1", "c2");
      const [a] = await h.a.get(tenantA, ["u1"]);
      expect(a).toMatchObject({ online: true, lastSeenMs: null });
      expect(a!.connections.map((c) => c.connectionId)).toEqual(["c1"]);
      expect(await h.a.get(tenantB, ["u1"])).toEqual([offline("u1", t0)]);
    });

    it("refuses bad ids, TTLs, info and forged scopes", async () => {
      const scope = freshTenantScope();
      const bad: [string, string, number, Record<string, unknown>][] = [
        ["", "c1", 1000, {}],
        ["u".repeat(257), "c1", 1000, {}],
        ["u1", "", 1000, {}],
        ["u1", "c1", 0, {}],
        ["u1", "c1", 1.5, {}],
        ["u1", "c1", 1000, { n: 1 }],
        ["u1", "c1", 1000, { big: "x".repeat(3000) }],
      ];
      for (const [userId, connectionId, ttl, i] of bad) {
        await expect(h.a.add(scope, userId, connectionId, ttl, i as never)).rejects.toThrow(RangeError);
      }
      await expect(h.a.touch(scope, "u1", "c1", -5)).rejects.toThrow(RangeError);
      await expect(h.a.get(scope, [""])).rejects.toThrow(RangeError);
      expect(await h.a.get(scope, ["u1"])).toEqual([offline("u1", null)]);
      await expect(h.a.add(forgedScope, "u1", "c1", 1000, {})).rejects.toThrow(TypeError);
      await expect(h.a.get(forgedScope, ["u1"])).rejects.toThrow(TypeError);
    });
  });
}
