import { newId } from "@caas/shared/ids";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { inForce, type ModerationStore, type RestrictionRecord } from "../../src/ports/moderation-store.js";
import type { Instances, OpenInstances } from "../support/backends.js";

const T0 = Date.UTC(2026, 0, 1);

/** The ModerationStore contract, run against every adapter. */
export function moderationStoreContract(name: string, open: OpenInstances): void {
  describe(`ModerationStore contract: ${name}`, () => {
    let inst: Instances;
    let store: ModerationStore;
    let scope: TenantScope;
    let conv: string;
    const rec = (o: Partial<RestrictionRecord> = {}): RestrictionRecord => ({
      conversationId: conv,
      userId: "bob",
      kind: "mute",
      present: true,
      expireTimeMs: 0,
      reason: "spam",
      actorId: "alice",
      seq: 5,
      timeMs: T0,
      ...o,
    });

    beforeEach(async () => {
      inst = await open();
      store = inst.a.moderation;
      scope = freshTenantScope();
      conv = newId();
    });
    afterEach(() => inst.close());

    it("stores a restriction per (conversation, user, kind), seen by another instance, within the tenant only", async () => {
      expect(await store.put(scope, rec())).toBe(true);
      expect(await inst.b.moderation.get(scope, conv, "bob", "mute")).toEqual(rec());
      expect(await store.get(scope, conv, "bob", "ban")).toBeUndefined();
      expect(await store.get(scope, newId(), "bob", "mute")).toBeUndefined();
      // Another tenant sees nothing, and its own rows do not collide.
      const other = freshTenantScope();
      expect(await store.get(other, conv, "bob", "mute")).toBeUndefined();
      expect(await store.put(other, rec({ seq: 1, reason: "other" }))).toBe(true);
      expect((await store.get(scope, conv, "bob", "mute"))?.reason).toBe("spam");
      expect(await store.list(other, conv, "mute", { limit: 10 })).toEqual([rec({ seq: 1, reason: "other" })]);
    });

    it("applies a change only with a newer seq, so replays and late writers never move it back", async () => {
      await store.put(scope, rec({ seq: 5 }));
      expect(await inst.b.moderation.put(scope, rec({ seq: 7, present: false, actorId: "carol" }))).toBe(true);
      expect(await store.put(scope, rec({ seq: 6, present: true, reason: "late" }))).toBe(false);
      expect(await store.put(scope, rec({ seq: 7, present: true }))).toBe(false);
      expect(await store.get(scope, conv, "bob", "mute")).toMatchObject({ present: false, seq: 7, actorId: "carol" });
      // Out of order across instances (one after the other: FerretDB 1.x applies a conditional
      // update read-modify-write, so two at the same instant may not keep log order there).
      await store.put(scope, rec({ seq: 9, expireTimeMs: T0 + 9 }));
      expect(await inst.b.moderation.put(scope, rec({ seq: 8, expireTimeMs: T0 + 8 }))).toBe(false);
      expect(await store.get(scope, conv, "bob", "mute")).toMatchObject({ seq: 9, expireTimeMs: T0 + 9, present: true });
    });

    it("lists present restrictions of one kind by user id with a keyset", async () => {
      for (const [i, u] of ["dave", "bob", "carol", "erin"].entries()) await store.put(scope, rec({ userId: u, kind: "ban", seq: 10 + i }));
      await store.put(scope, rec({ userId: "carol", kind: "ban", seq: 20, present: false }));
      await store.put(scope, rec({ userId: "zed", kind: "mute", seq: 21 }));
      const p1 = await store.list(scope, conv, "ban", { limit: 2 });
      expect(p1.map((r) => r.userId)).toEqual(["bob", "dave"]);
      const p2 = await inst.b.moderation.list(scope, conv, "ban", { after: { userId: "dave" }, limit: 2 });
      expect(p2.map((r) => r.userId)).toEqual(["erin"]);
      expect((await store.list(scope, conv, "mute", { limit: 10 })).map((r) => r.userId)).toEqual(["zed"]);
    });

    it("freezes a conversation as a settings change of the ConversationStore, in seq order", async () => {
      const c = await inst.a.conversations.create(scope, { id: conv, kind: "group", title: "t", avatarUrl: "", createdBy: "alice", createTimeMs: T0, joinPolicy: "open" });
      expect(c.conversation.frozen).toBe(false);
      await inst.a.conversations.applySettings(scope, conv, { seq: 3, timeMs: T0 + 3, frozen: true });
      expect((await inst.b.conversations.get(scope, conv))?.frozen).toBe(true);
      // An older event changes nothing; archiving leaves the freeze alone.
      await inst.b.conversations.applySettings(scope, conv, { seq: 2, timeMs: T0 + 2, frozen: false });
      await inst.b.conversations.applySettings(scope, conv, { seq: 4, timeMs: T0 + 4, archived: true });
      expect(await inst.a.conversations.get(scope, conv)).toMatchObject({ frozen: true, archived: true });
      await inst.a.conversations.applySettings(scope, conv, { seq: 5, timeMs: T0 + 5, frozen: false });
      expect((await inst.a.conversations.get(scope, conv))?.frozen).toBe(false);
      await expect(inst.a.conversations.applySettings(scope, conv, { seq: 6, timeMs: T0, frozen: "yes" as never })).rejects.toThrow(RangeError);
    });

    it("tells whether a restriction is in force at a time", () => {
      expect(inForce(rec(), T0 + 1e9)).toBe(true);
      expect(inForce(rec({ expireTimeMs: T0 + 10 }), T0 + 9)).toBe(true);
      expect(inForce(rec({ expireTimeMs: T0 + 10 }), T0 + 10)).toBe(false);
      expect(inForce(rec({ present: false }), T0)).toBe(false);
      expect(inForce(undefined, T0)).toBe(false);
    });

    it("refuses bad arguments and plain objects posing as a TenantScope", async () => {
      await expect(store.put(scope, rec({ seq: 0 }))).rejects.toThrow(RangeError);
      await expect(store.put(scope, rec({ kind: "kick" as never }))).rejects.toThrow(RangeError);
      await expect(store.put(scope, rec({ userId: "a|b" }))).rejects.toThrow(RangeError);
      await expect(store.list(scope, conv, "ban", { limit: 0 })).rejects.toThrow(RangeError);
      await expect(store.get({ tenantId: scope.tenantId } as TenantScope, conv, "bob", "mute")).rejects.toThrow(TypeError);
    });
  });
}
