import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Instances, OpenInstances } from "../support/backends.js";

/**
 * The AuthStateStore contract, run against every adapter. Its values are platform-wide (the
 * admin credential hash, the keyring), so this suite has no tenant dimension.
 */
export function authStateStoreContract(name: string, open: OpenInstances): void {
  describe(`AuthStateStore contract: ${name}`, () => {
    let s: Instances;
    beforeEach(async () => {
      s = await open();
    });
    afterEach(async () => {
      await s.close();
    });

    it("keeps the first value put under a name", async () => {
      expect(await s.a.state.get("admin")).toBeUndefined();
      expect(await s.a.state.putIfAbsent("admin", "first", 1)).toBe("first");
      expect(await s.b.state.putIfAbsent("admin", "second", 2)).toBe("first");
      expect(await s.b.state.get("admin")).toBe("first");
      expect(await s.b.state.get("other")).toBeUndefined();
    });

    it("gives every concurrent caller the one winning value", async () => {
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? s.a : s.b).state.putIfAbsent("race", `v${i}`, i)));
      expect(new Set(results).size).toBe(1);
      expect(await s.a.state.get("race")).toBe(results[0]);
    });

    it("refuses bad names", async () => {
      await expect(s.a.state.get("")).rejects.toThrow(RangeError);
      await expect(s.a.state.putIfAbsent("", "v", 1)).rejects.toThrow(RangeError);
    });
  });
}
