import { newId } from "@caas/shared/ids";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { StoredRevocation } from "../../src/ports/revocation-store.js";
import type { Instances, OpenInstances } from "../support/backends.js";

/**
 * The RevocationStore contract, run against every adapter. Entries are platform-wide (each names
 * its tenant), so the suite checks that every tenant's entries are listed, each with its own
 * tenant, rather than a tenant filter.
 */
export function revocationStoreContract(name: string, open: OpenInstances): void {
  describe(`RevocationStore contract: ${name}`, () => {
    let s: Instances;
    beforeEach(async () => {
      s = await open();
    });
    afterEach(async () => {
      await s.close();
    });

    const entry = (over: Partial<StoredRevocation> = {}): StoredRevocation => ({
      id: newId(),
      kind: "session",
      tenantId: "t1",
      subjectId: newId(),
      revokeTimeMs: 1_000,
      expireTimeMs: 400_000,
      ...over,
    });

    it("lists unexpired entries of every tenant in id order, paging after an id, across instances", async () => {
      const a = entry({ tenantId: "t1" });
      const b = entry({ tenantId: "t2", kind: "user", subjectId: "bob" });
      const c = entry({ tenantId: "", kind: "signing-key", subjectId: "kid-1" });
      const d = entry({ tenantId: "t3", kind: "tenant", subjectId: "" });
      await s.a.revocations.add(a);
      await s.b.revocations.add(b);
      await s.a.revocations.add(c);
      await s.b.revocations.add(d);
      expect(await s.b.revocations.list({ nowMs: 2_000, limit: 10 })).toEqual([a, b, c, d]);
      const first = await s.a.revocations.list({ nowMs: 2_000, limit: 2 });
      expect(first).toEqual([a, b]);
      expect(await s.a.revocations.list({ afterId: b.id, nowMs: 2_000, limit: 2 })).toEqual([c, d]);
      expect(await s.a.revocations.list({ afterId: d.id, nowMs: 2_000, limit: 2 })).toEqual([]);
    });

    it("keeps the first entry under an id, and leaves out (and forgets) expired ones", async () => {
      const a = entry({ expireTimeMs: 10_000 });
      await s.a.revocations.add(a);
      await s.b.revocations.add({ ...a, subjectId: "other" });
      const live = entry({ expireTimeMs: 50_000 });
      await s.b.revocations.add(live);
      expect(await s.a.revocations.list({ nowMs: 9_999, limit: 10 })).toEqual([a, live]);
      expect(await s.a.revocations.list({ nowMs: 10_000, limit: 10 })).toEqual([live]);
      // Even an old clock does not bring a swept entry back.
      expect(await s.b.revocations.list({ nowMs: 5_000, limit: 10 })).toEqual([live]);
    });

    it("refuses bad entries and queries", async () => {
      await expect(s.a.revocations.add(entry({ kind: "api-key" as never }))).rejects.toThrow(RangeError);
      await expect(s.a.revocations.add(entry({ id: "" }))).rejects.toThrow(RangeError);
      await expect(s.a.revocations.add(entry({ expireTimeMs: -1 }))).rejects.toThrow(RangeError);
      await expect(s.a.revocations.list({ nowMs: 1, limit: 0 })).rejects.toThrow(RangeError);
      await expect(s.a.revocations.list({ nowMs: 1, limit: 10, afterId: "" })).rejects.toThrow(RangeError);
    });
  });
}
