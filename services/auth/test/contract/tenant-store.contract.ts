import { AlreadyExistsError } from "@caas/shared/errors";
import { newId } from "@caas/shared/ids";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { TenantRecord } from "../../src/ports/tenant-store.js";
import type { Instances, OpenInstances } from "../support/backends.js";

const forged = { tenantId: "forged" } as never;

function tenant(o: Partial<TenantRecord> = {}): TenantRecord {
  return { id: newId(), name: "Acme", status: "active", settings: "{}", createTimeMs: 1000, updateTimeMs: 1000, revision: 1, ...o };
}

/** The TenantStore contract, run against every adapter. */
export function tenantStoreContract(name: string, open: OpenInstances): void {
  describe(`TenantStore contract: ${name}`, () => {
    let s: Instances;
    beforeEach(async () => {
      s = await open();
    });
    afterEach(async () => {
      await s.close();
    });

    it("creates a tenant that every instance reads back exactly; a duplicate id is ALREADY_EXISTS", async () => {
      const t = tenant({ settings: '{"passwordAuthEnabled":true}' });
      await s.a.tenants.create(t);
      expect(await s.b.tenants.get(scopeForAdmin(t.id))).toEqual(t);
      await expect(s.b.tenants.create({ ...t, name: "Other" })).rejects.toBeInstanceOf(AlreadyExistsError);
      expect((await s.a.tenants.get(scopeForAdmin(t.id)))?.name).toBe("Acme");
      expect(await s.a.tenants.get(scopeForAdmin(newId()))).toBeUndefined();
    });

    it("lists in id order with a keyset and a status filter", async () => {
      const made: TenantRecord[] = [];
      for (let i = 0; i < 5; i++) made.push(tenant({ name: `t${i}`, status: i % 2 === 0 ? "active" : "suspended" }));
      for (const t of made) await s.a.tenants.create(t);
      const first = await s.b.tenants.list({ limit: 3 });
      expect(first.map((t) => t.id)).toEqual(made.slice(0, 3).map((t) => t.id));
      const rest = await s.b.tenants.list({ limit: 3, afterId: first[2]!.id });
      expect(rest.map((t) => t.id)).toEqual(made.slice(3).map((t) => t.id));
      const suspended = await s.b.tenants.list({ limit: 10, status: "suspended" });
      expect(suspended.map((t) => t.name)).toEqual(["t1", "t3"]);
      const active = await s.b.tenants.list({ limit: 10, status: "active", afterId: made[0]!.id });
      expect(active.map((t) => t.name)).toEqual(["t2", "t4"]);
    });

    it("updates what it is given, bumps the revision, and compares revisions when asked", async () => {
      const t = tenant();
      await s.a.tenants.create(t);
      const scope = scopeForAdmin(t.id);
      const renamed = await s.b.tenants.update(scope, { name: "Renamed" }, 2000);
      expect(renamed).toEqual({ ...t, name: "Renamed", updateTimeMs: 2000, revision: 2 });
      expect(await s.a.tenants.update(scope, { settings: '{"mfaRequired":true}' }, 3000, 1)).toBeUndefined();
      expect((await s.a.tenants.get(scope))?.settings).toBe("{}");
      const both = await s.a.tenants.update(scope, { settings: '{"mfaRequired":true}', status: "suspended" }, 3000, 2);
      expect(both).toEqual({ ...t, name: "Renamed", settings: '{"mfaRequired":true}', status: "suspended", updateTimeMs: 3000, revision: 3 });
      expect(await s.b.tenants.get(scope)).toEqual(both);
      expect(await s.a.tenants.update(scopeForAdmin(newId()), { name: "x" }, 4000)).toBeUndefined();
    });

    it("never reads or changes one tenant through another tenant's scope", async () => {
      const a = tenant({ name: "A" });
      const b = tenant({ name: "B" });
      await s.a.tenants.create(a);
      await s.a.tenants.create(b);
      expect((await s.b.tenants.get(scopeForAdmin(b.id)))?.name).toBe("B");
      await s.b.tenants.update(scopeForAdmin(b.id), { name: "B2", status: "suspended" }, 5000);
      expect(await s.a.tenants.get(scopeForAdmin(a.id))).toEqual(a);
    });

    it("refuses forged scopes and bad records", async () => {
      await expect(s.a.tenants.get(forged)).rejects.toThrow(TypeError);
      await expect(s.a.tenants.update(forged, { name: "x" }, 1)).rejects.toThrow(TypeError);
      await expect(s.a.tenants.create(tenant({ name: "" }))).rejects.toThrow(RangeError);
      await expect(s.a.tenants.create(tenant({ status: "archived" as never }))).rejects.toThrow(RangeError);
      await expect(s.a.tenants.list({ limit: 0 })).rejects.toThrow(RangeError);
      expect(await s.a.tenants.list({ limit: 10 })).toEqual([]);
    });
  });
}
