import { newId } from "@caas/shared/ids";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { MarkRecord, MessageMarkStore } from "../../src/ports/message-mark-store.js";
import type { Instances, OpenInstances } from "../support/backends.js";

const T0 = Date.UTC(2026, 0, 1);

/** The MessageMarkStore contract, run against every adapter. */
export function messageMarkStoreContract(name: string, open: OpenInstances): void {
  describe(`MessageMarkStore contract: ${name}`, () => {
    let inst: Instances;
    let store: MessageMarkStore;
    let scope: TenantScope;
    let conv: string;

    beforeEach(async () => {
      inst = await open();
      store = inst.a.marks;
      scope = freshTenantScope();
      conv = newId();
    });
    afterEach(() => inst.close());

    const reaction = (messageSeq: number, key: string, userId: string, seq: number, present = true): MarkRecord => ({
      conversationId: conv,
      messageSeq,
      kind: "reaction",
      key,
      userId,
      seq,
      present,
      actorId: userId,
      timeMs: T0 + seq,
    });
    const pin = (messageSeq: number, seq: number, present = true): MarkRecord => ({
      conversationId: conv,
      messageSeq,
      kind: "pin",
      key: "",
      userId: "",
      seq,
      present,
      actorId: "mod",
      timeMs: T0 + seq,
    });
    const edit = (messageSeq: number, seq: number): MarkRecord => ({
      conversationId: conv,
      messageSeq,
      kind: "edit",
      key: String(seq),
      userId: "",
      seq,
      present: true,
      actorId: "bob",
      timeMs: T0 + seq,
    });

    it("keeps the state of the highest seq applied, in any order, twice, and from any instance", async () => {
      await store.apply(scope, reaction(2, "👍", "bob", 5, false));
      await inst.b.marks.apply(scope, reaction(2, "👍", "bob", 3, true));
      await store.apply(scope, reaction(2, "👍", "bob", 5, false));
      expect(await inst.b.marks.get(scope, conv, 2, "reaction", "👍", "bob")).toEqual(reaction(2, "👍", "bob", 5, false));
      await inst.b.marks.apply(scope, reaction(2, "👍", "bob", 7, true));
      expect(await store.get(scope, conv, 2, "reaction", "👍", "bob")).toEqual(reaction(2, "👍", "bob", 7, true));
      expect(await store.get(scope, conv, 2, "reaction", "👍", "carol")).toBeUndefined();
      expect(await store.get(scope, conv, 2, "reaction", "❤️", "bob")).toBeUndefined();
    });

    it("lists the present marks of messages and counts them per kind, message and user", async () => {
      await store.apply(scope, reaction(2, "👍", "bob", 4));
      await store.apply(scope, reaction(2, "👍", "carol", 5));
      await store.apply(scope, reaction(2, "a|b", "bob", 6));
      await store.apply(scope, reaction(2, "a|b", "bob", 8, false));
      await store.apply(scope, reaction(3, "👍", "bob", 7));
      await store.apply(scope, edit(2, 9));
      await store.apply(scope, edit(2, 10));
      await store.apply(scope, pin(3, 11));
      const of2 = await inst.b.marks.ofMessages(scope, conv, [2]);
      expect(of2.map((m) => `${m.kind}:${m.key}:${m.userId}`).sort()).toEqual(["edit:10:", "edit:9:", "reaction:👍:bob", "reaction:👍:carol"]);
      expect((await store.ofMessages(scope, conv, [2, 3, 99])).length).toBe(6);
      expect(await store.ofMessages(scope, conv, [])).toEqual([]);
      expect(await store.count(scope, conv, { kind: "reaction" })).toBe(3);
      expect(await store.count(scope, conv, { kind: "reaction", messageSeq: 2 })).toBe(2);
      expect(await store.count(scope, conv, { kind: "reaction", messageSeq: 2, userId: "bob" })).toBe(1);
      expect(await store.count(scope, conv, { kind: "pin" })).toBe(1);
      expect(await store.count(scope, conv, { kind: "edit", messageSeq: 2 })).toBe(2);
    });

    it("lists present pins, most recently pinned first, with a keyset", async () => {
      await store.apply(scope, pin(2, 10));
      await store.apply(scope, pin(3, 11));
      await store.apply(scope, pin(4, 12));
      await store.apply(scope, pin(3, 13, false));
      await store.apply(scope, pin(5, 14));
      await store.apply(scope, pin(2, 15, false));
      await store.apply(scope, pin(2, 16));
      const all = await inst.b.marks.pins(scope, conv, { limit: 10 });
      expect(all.map((p) => [p.messageSeq, p.seq])).toEqual([
        [2, 16],
        [5, 14],
        [4, 12],
      ]);
      expect((await store.pins(scope, conv, { limit: 1, beforeSeq: 16 })).map((p) => p.messageSeq)).toEqual([5]);
      expect((await store.pins(scope, conv, { limit: 2, beforeSeq: 14 })).map((p) => p.messageSeq)).toEqual([4]);
      expect(all[0]).toEqual(pin(2, 16));
    });

    const reply = (messageSeq: number, seq: number, userId: string): MarkRecord => ({
      conversationId: conv,
      messageSeq,
      kind: "reply",
      key: String(seq),
      userId,
      seq,
      present: true,
      actorId: userId,
      timeMs: T0 + seq,
    });

    it("sums up thread replies per root, pages a root's replies oldest first, and keeps them out of ofMessages", async () => {
      for (const [seq, user] of [
        [3, "bob"],
        [4, "carol"],
        [6, "bob"],
        [7, "dan"],
        [8, "erin"],
        [9, "fay"],
        [10, "gus"],
      ] as const) {
        await store.apply(scope, reply(2, seq, user));
      }
      await inst.b.marks.apply(scope, reply(2, 6, "bob"));
      await store.apply(scope, reply(5, 11, "bob"));
      await store.apply(scope, reaction(2, "👍", "bob", 12));
      const threads = (await inst.b.marks.threads(scope, conv, [2, 5, 99])).sort((x, y) => x.messageSeq - y.messageSeq);
      expect(threads).toEqual([
        { messageSeq: 2, replyCount: 7, lastReplySeq: 10, lastReplyTimeMs: T0 + 10, participantIds: ["gus", "fay", "erin", "dan", "bob"] },
        { messageSeq: 5, replyCount: 1, lastReplySeq: 11, lastReplyTimeMs: T0 + 11, participantIds: ["bob"] },
      ]);
      expect(await store.threads(scope, conv, [])).toEqual([]);
      expect((await store.replies(scope, conv, 2, { afterSeq: 0, limit: 3 })).map((m) => m.seq)).toEqual([3, 4, 6]);
      expect((await inst.b.marks.replies(scope, conv, 2, { afterSeq: 6, limit: 10 })).map((m) => [m.seq, m.userId])).toEqual([
        [7, "dan"],
        [8, "erin"],
        [9, "fay"],
        [10, "gus"],
      ]);
      expect((await store.ofMessages(scope, conv, [2, 5])).map((m) => m.kind)).toEqual(["reaction"]);
      expect(await store.count(scope, conv, { kind: "reply", messageSeq: 2 })).toBe(7);
      expect(await store.threads(freshTenantScope(), conv, [2])).toEqual([]);
      expect(await store.replies(freshTenantScope(), conv, 2, { afterSeq: 0, limit: 10 })).toEqual([]);
      await expect(store.apply(scope, { ...reply(2, 13, "bob"), key: "12" })).rejects.toThrow(RangeError);
      await expect(store.apply(scope, reply(2, 14, ""))).rejects.toThrow(RangeError);
      await expect(store.replies(scope, conv, 2, { afterSeq: 0, limit: 0 })).rejects.toThrow(RangeError);
    });

    it("clears one conversation's marks of one tenant only", async () => {
      const otherConv = newId();
      const other = freshTenantScope();
      await store.apply(scope, reaction(2, "👍", "bob", 4));
      await store.apply(scope, reply(2, 5, "bob"));
      await store.apply(scope, { ...pin(2, 6), conversationId: otherConv });
      await store.apply(other, reaction(2, "👍", "bob", 4));
      await inst.b.marks.clear(scope, conv);
      await store.clear(scope, conv);
      expect(await store.ofMessages(scope, conv, [2])).toEqual([]);
      expect(await store.threads(scope, conv, [2])).toEqual([]);
      expect(await store.count(scope, otherConv, { kind: "pin" })).toBe(1);
      expect(await store.count(other, conv, { kind: "reaction" })).toBe(1);
    });

    it("keeps tenants and conversations apart", async () => {
      await store.apply(scope, reaction(2, "👍", "bob", 4));
      await store.apply(scope, pin(2, 5));
      const other = freshTenantScope();
      expect(await store.get(other, conv, 2, "reaction", "👍", "bob")).toBeUndefined();
      expect(await store.ofMessages(other, conv, [2])).toEqual([]);
      expect(await store.pins(other, conv, { limit: 10 })).toEqual([]);
      expect(await store.count(scope, newId(), { kind: "reaction" })).toBe(0);
    });

    it("refuses arguments every adapter refuses", async () => {
      await expect(store.get({ tenantId: scope.tenantId } as TenantScope, conv, 2, "pin", "", "")).rejects.toThrow(TypeError);
      await expect(store.apply(scope, { ...pin(2, 5), key: "x" })).rejects.toThrow(RangeError);
      await expect(store.apply(scope, { ...edit(2, 5), key: "4" })).rejects.toThrow(RangeError);
      await expect(store.apply(scope, reaction(2, "x".repeat(33), "bob", 4))).rejects.toThrow(RangeError);
      await expect(store.apply(scope, reaction(2, "", "bob", 4))).rejects.toThrow(RangeError);
      await expect(store.apply(scope, reaction(5, "👍", "bob", 5))).rejects.toThrow(RangeError);
      await expect(store.apply(scope, { ...pin(2, 5), kind: "star" as never })).rejects.toThrow(RangeError);
      await expect(
        store.ofMessages(
          scope,
          conv,
          Array.from({ length: 1001 }, (_, i) => i),
        ),
      ).rejects.toThrow(RangeError);
      await expect(store.pins(scope, conv, { limit: 0 })).rejects.toThrow(RangeError);
      await expect(store.count(scope, conv, { kind: "reaction", userId: "a|b" })).rejects.toThrow(RangeError);
    });
  });
}
