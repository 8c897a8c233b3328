import type { TenantScope } from "@caas/shared/tenant-scope";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Instances, OpenInstances } from "../support/backends.js";

const forged = { tenantId: "forged" } as never;

/** The TotpStore contract, run against every adapter. */
export function totpStoreContract(name: string, open: OpenInstances): void {
  describe(`TotpStore contract: ${name}`, () => {
    let s: Instances;
    let scope: TenantScope;
    beforeEach(async () => {
      s = await open();
      scope = freshTenantScope();
    });
    afterEach(async () => {
      await s.close();
    });

    it("starts, restarts and enables an enrollment once; an enabled one cannot restart", async () => {
      expect(await s.a.totp.startEnrollment(scope, "alice", "sealed-1", 1000)).toBe(true);
      expect(await s.b.totp.get(scope, "alice")).toEqual({ tenantId: scope.tenantId, userId: "alice", sealedSecret: "sealed-1", enabled: false, recoveryHashes: [], createTimeMs: 1000 });
      expect(await s.b.totp.startEnrollment(scope, "alice", "sealed-2", 2000)).toBe(true);
      expect(await s.a.totp.enable(scope, "alice", ["h1", "h2"])).toBe(true);
      expect(await s.b.totp.enable(scope, "alice", ["h3"])).toBe(false);
      expect(await s.b.totp.startEnrollment(scope, "alice", "sealed-3", 3000)).toBe(false);
      expect(await s.a.totp.get(scope, "alice")).toMatchObject({ sealedSecret: "sealed-2", enabled: true, recoveryHashes: ["h1", "h2"] });
      expect(await s.a.totp.enable(scope, "nobody", ["h"])).toBe(false);
    });

    it("grants each claim once, also to concurrent claimers, and forgets claims with the enrollment", async () => {
      await s.a.totp.startEnrollment(scope, "alice", "sealed", 1000);
      const racing = await Promise.all([s.a.totp.claim(scope, "alice", "step:100", 1000), s.b.totp.claim(scope, "alice", "step:100", 1000)]);
      expect(racing.filter(Boolean)).toHaveLength(1);
      expect(await s.a.totp.claim(scope, "alice", "step:101", 1000)).toBe(true);
      expect(await s.a.totp.claim(scope, "bob", "step:100", 1000)).toBe(true);
      expect(await s.b.totp.remove(scope, "alice")).toBe(true);
      expect(await s.b.totp.remove(scope, "alice")).toBe(false);
      expect(await s.a.totp.get(scope, "alice")).toBeUndefined();
      expect(await s.a.totp.claim(scope, "alice", "step:100", 2000)).toBe(true);
      expect(await s.a.totp.claim(scope, "bob", "step:100", 2000)).toBe(false);
    });

    it("keeps tenants apart", async () => {
      const other = freshTenantScope();
      await s.a.totp.startEnrollment(other, "alice", "theirs", 1000);
      await s.a.totp.enable(other, "alice", ["h"]);
      expect(await s.b.totp.get(scope, "alice")).toBeUndefined();
      expect(await s.b.totp.startEnrollment(scope, "alice", "mine", 1000)).toBe(true);
      expect(await s.b.totp.claim(other, "alice", "k", 1)).toBe(true);
      expect(await s.b.totp.claim(scope, "alice", "k", 1)).toBe(true);
      expect(await s.b.totp.remove(scope, "alice")).toBe(true);
      expect(await s.a.totp.get(other, "alice")).toMatchObject({ sealedSecret: "theirs", enabled: true });
    });

    it("refuses forged scopes", async () => {
      await expect(s.a.totp.get(forged, "alice")).rejects.toThrow(TypeError);
      await expect(s.a.totp.startEnrollment(forged, "alice", "x", 1)).rejects.toThrow(TypeError);
      await expect(s.a.totp.claim(forged, "alice", "k", 1)).rejects.toThrow(TypeError);
      await expect(s.a.totp.remove(forged, "alice")).rejects.toThrow(TypeError);
    });
  });
}
