import type { TenantScope } from "@caas/shared/tenant-scope";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PasswordRecord } from "../../src/ports/password-store.js";
import type { Instances, OpenInstances } from "../support/backends.js";

const forged = { tenantId: "forged" } as never;

function record(scope: TenantScope, o: Partial<PasswordRecord> = {}): PasswordRecord {
  return { tenantId: scope.tenantId, login: "email:alice@example.com", userId: "u1", hash: "scrypt$1$1$1$aa$bb", createTimeMs: 1000, ...o };
}

/** The PasswordStore contract, run against every adapter. */
export function passwordStoreContract(name: string, open: OpenInstances): void {
  describe(`PasswordStore contract: ${name}`, () => {
    let s: Instances;
    let scope: TenantScope;
    beforeEach(async () => {
      s = await open();
      scope = freshTenantScope();
    });
    afterEach(async () => {
      await s.close();
    });

    it("stores a login once and finds it from another instance", async () => {
      expect(await s.a.passwords.create(scope, record(scope))).toBe(true);
      expect(await s.b.passwords.create(scope, record(scope, { userId: "u2" }))).toBe(false);
      expect(await s.b.passwords.getByLogin(scope, "email:alice@example.com")).toEqual(record(scope));
      expect(await s.b.passwords.getByLogin(scope, "email:bob@example.com")).toBeUndefined();
      expect(await s.b.passwords.hasLogin(scope, "u1")).toBe(true);
      expect(await s.b.passwords.hasLogin(scope, "u2")).toBe(false);
    });

    it("lets exactly one of concurrent creates of a login win", async () => {
      const results = await Promise.all([s.a.passwords.create(scope, record(scope, { userId: "a" })), s.b.passwords.create(scope, record(scope, { userId: "b" }))]);
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it("keeps tenants apart: one login in two tenants is two accounts", async () => {
      const other = freshTenantScope();
      expect(await s.a.passwords.create(other, record(other, { userId: "theirs" }))).toBe(true);
      expect(await s.b.passwords.getByLogin(scope, "email:alice@example.com")).toBeUndefined();
      expect(await s.a.passwords.create(scope, record(scope, { userId: "mine" }))).toBe(true);
      expect((await s.b.passwords.getByLogin(scope, "email:alice@example.com"))?.userId).toBe("mine");
      expect((await s.b.passwords.getByLogin(other, "email:alice@example.com"))?.userId).toBe("theirs");
      expect(await s.b.passwords.hasLogin(scope, "theirs")).toBe(false);
    });

    it("lists and removes a user's logins, in its tenant only", async () => {
      const other = freshTenantScope();
      await s.a.passwords.create(scope, record(scope));
      await s.a.passwords.create(scope, record(scope, { login: "username:alice" }));
      await s.a.passwords.create(scope, record(scope, { login: "username:bob", userId: "u2" }));
      await s.a.passwords.create(other, record(other));
      expect((await s.b.passwords.ofUser(scope, "u1")).map((r) => r.login)).toEqual(["email:alice@example.com", "username:alice"]);
      expect(await s.b.passwords.removeUser(scope, "u1")).toBe(2);
      expect(await s.a.passwords.ofUser(scope, "u1")).toEqual([]);
      expect(await s.a.passwords.getByLogin(scope, "email:alice@example.com")).toBeUndefined();
      expect(await s.a.passwords.hasLogin(scope, "u2")).toBe(true);
      expect(await s.a.passwords.getByLogin(other, "email:alice@example.com")).toEqual(record(other));
      expect(await s.a.passwords.removeUser(scope, "u1")).toBe(0);
    });

    it("refuses forged scopes and bad records", async () => {
      await expect(s.a.passwords.create(forged, record(scope))).rejects.toThrow(TypeError);
      await expect(s.a.passwords.getByLogin(forged, "x")).rejects.toThrow(TypeError);
      await expect(s.a.passwords.create(scope, record(scope, { tenantId: "other" }))).rejects.toThrow(RangeError);
      await expect(s.a.passwords.create(scope, record(scope, { hash: "" }))).rejects.toThrow(RangeError);
      expect(await s.a.passwords.getByLogin(scope, "email:alice@example.com")).toBeUndefined();
    });
  });
}
