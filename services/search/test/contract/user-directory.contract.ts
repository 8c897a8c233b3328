import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DirectoryQuery, UserDirectory } from "../../src/ports/user-directory.js";
import { forgedScope, type Instances } from "@caas/shared/testing";

/** Two handles on one backend, as two search instances hold them. */
export type UserDirectoryHarness = Instances<UserDirectory>;

const q = (words: string[], o: Partial<DirectoryQuery> = {}): DirectoryQuery => ({ words, idPrefix: "", viewerId: "viewer", limit: 20, ...o });

/** The `UserDirectory` contract (ports/user-directory.ts), run against every adapter. */
export function userDirectoryContract(name: string, factory: () => Promise<UserDirectoryHarness>): void {
  describe(`UserDirectory contract: ${name}`, () => {
    let h: UserDirectoryHarness;
    beforeEach(async () => {
      h = await factory();
    });
    afterEach(async () => {
      await h.close();
    });
    const ids = async (d: UserDirectory, scope: ReturnType<typeof freshTenantScope>, query: DirectoryQuery) => (await d.search(scope, query)).map((u) => u.userId);

    it("matches every word as a prefix of a name word, folded; or the id prefix; ordered by name then id", async () => {
      const scope = freshTenantScope();
      await h.a.put(scope, { userId: "u3", displayName: "Zoë Quill", avatarUrl: "https://a.example/z.png" });
      await h.a.put(scope, { userId: "u1", displayName: "Zack Quill", avatarUrl: "" });
      await h.a.put(scope, { userId: "u2", displayName: "Anna Zimmer-Quill", avatarUrl: "" });
      await h.a.put(scope, { userId: "bob-9", displayName: "Robert", avatarUrl: "" });
      expect(await ids(h.b, scope, q(["quill"]))).toEqual(["u2", "u1", "u3"]);
      expect(await ids(h.b, scope, q(["zo", "qu"]))).toEqual(["u3"]);
      expect(await ids(h.b, scope, q(["zoe"]))).toEqual(["u3"]);
      expect(await ids(h.b, scope, q(["uill"]))).toEqual([]);
      expect(await ids(h.b, scope, q([], { idPrefix: "bob-" }))).toEqual(["bob-9"]);
      expect(await ids(h.b, scope, q(["robert"], { idPrefix: "u" }))).toEqual(["u2", "bob-9", "u1", "u3"]);
      const [zoe] = await h.b.search(scope, q(["zoe"]));
      expect(zoe).toMatchObject({ userId: "u3", displayName: "Zoë Quill", avatarUrl: "https://a.example/z.png", nameFolded: "zoe quill" });
    });

    it("pages by (folded name, id) after a key", async () => {
      const scope = freshTenantScope();
      for (const [id, name] of [
        ["a", "Sam Lee"],
        ["b", "Sam Lee"],
        ["c", "Sam Moe"],
      ] as const)
        await h.a.put(scope, { userId: id, displayName: name, avatarUrl: "" });
      const first = await h.a.search(scope, q(["sam"], { limit: 2 }));
      expect(first.map((u) => u.userId)).toEqual(["a", "b"]);
      const last = first[1]!;
      expect(await ids(h.a, scope, q(["sam"], { limit: 2, after: [last.nameFolded, last.userId] }))).toEqual(["c"]);
    });

    it("leaves out deactivated users and users who blocked the viewer; replaces on put; forgets on remove", async () => {
      const scope = freshTenantScope();
      await h.a.put(scope, { userId: "u1", displayName: "Kim One", avatarUrl: "" });
      await h.a.put(scope, { userId: "u2", displayName: "Kim Two", avatarUrl: "" });
      await h.a.setActive(scope, "u2", false);
      expect(await ids(h.b, scope, q(["kim"]))).toEqual(["u1"]);
      await h.a.setActive(scope, "u2", true);
      await h.a.setBlock(scope, "u1", "viewer", true);
      await h.a.setBlock(scope, "u1", "viewer", true);
      expect(await ids(h.b, scope, q(["kim"]))).toEqual(["u2"]);
      expect(await ids(h.b, scope, q(["kim"], { viewerId: "someone" }))).toEqual(["u1", "u2"]);
      await h.a.setBlock(scope, "u1", "viewer", false);
      expect(await ids(h.b, scope, q(["kim"]))).toEqual(["u1", "u2"]);
      // A put keeps the active flag; renames move the user.
      await h.a.setActive(scope, "u2", false);
      await h.a.put(scope, { userId: "u2", displayName: "Lee Two", avatarUrl: "" });
      expect(await ids(h.b, scope, q(["lee"]))).toEqual([]);
      await h.a.setActive(scope, "u2", true);
      expect(await ids(h.b, scope, q(["lee"]))).toEqual(["u2"]);
      expect(await ids(h.b, scope, q(["kim"]))).toEqual(["u1"]);
      await h.a.remove(scope, "u1");
      await h.a.remove(scope, "u1");
      expect(await ids(h.b, scope, q(["kim"]))).toEqual([]);
      await h.a.setActive(scope, "nobody", true);
      expect(await ids(h.b, scope, q(["nobody"], { idPrefix: "nobody" }))).toEqual([]);
    });

    it("never shows one tenant's users to another, even with equal ids and names", async () => {
      const one = freshTenantScope();
      const two = freshTenantScope();
      await h.a.put(one, { userId: "u1", displayName: "Same Name", avatarUrl: "" });
      await h.a.put(two, { userId: "u2", displayName: "Same Name", avatarUrl: "" });
      await h.a.setBlock(two, "u2", "viewer", true);
      expect(await ids(h.b, one, q(["same"]))).toEqual(["u1"]);
      expect(await ids(h.b, two, q(["same"], { viewerId: "other" }))).toEqual(["u2"]);
      await h.a.remove(two, "u1");
      expect(await ids(h.b, one, q(["same"]))).toEqual(["u1"]);
      await expect(h.a.put(forgedScope, { userId: "x", displayName: "X", avatarUrl: "" })).rejects.toThrow(TypeError);
    });
  });
}
