import { newId } from "@caas/shared/ids";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { MentionStore } from "../../src/ports/mention-store.js";
import type { Instances, OpenInstances } from "../support/backends.js";

const T0 = Date.UTC(2026, 0, 1);

/** The MentionStore contract, run against every adapter. */
export function mentionStoreContract(name: string, open: OpenInstances): void {
  describe(`MentionStore contract: ${name}`, () => {
    let inst: Instances;
    let store: MentionStore;
    let scope: TenantScope;
    let conv: string;

    beforeEach(async () => {
      inst = await open();
      store = inst.a.mentions;
      scope = freshTenantScope();
      conv = newId();
    });
    afterEach(() => inst.close());

    it("counts a user's records after a position, per conversation", async () => {
      const other = newId();
      await store.record(scope, { conversationId: conv, seq: 3, userIds: ["ann", "bob"], timeMs: T0 });
      await store.record(scope, { conversationId: conv, seq: 7, userIds: ["ann"], timeMs: T0 });
      await inst.b.mentions.record(scope, { conversationId: other, seq: 2, userIds: ["ann"], timeMs: T0 });
      const counts = await store.count(scope, "ann", [
        { conversationId: conv, afterSeq: 0 },
        { conversationId: other, afterSeq: 0 },
        { conversationId: newId(), afterSeq: 0 },
      ]);
      expect([...counts.entries()].sort()).toEqual(
        [
          [conv, 2],
          [other, 1],
        ].sort(),
      );
      expect(await store.count(scope, "ann", [{ conversationId: conv, afterSeq: 3 }])).toEqual(new Map([[conv, 1]]));
      expect(await store.count(scope, "ann", [{ conversationId: conv, afterSeq: 7 }])).toEqual(new Map());
      expect(await inst.b.mentions.count(scope, "bob", [{ conversationId: conv, afterSeq: 0 }])).toEqual(new Map([[conv, 1]]));
      expect(await store.count(scope, "ann", [])).toEqual(new Map());
    });

    it("ignores a repeated record, also from two instances at once", async () => {
      const m = { conversationId: conv, seq: 4, userIds: ["ann"], timeMs: T0 };
      await Promise.all([store.record(scope, m), inst.b.mentions.record(scope, m), store.record(scope, m)]);
      expect(await store.count(scope, "ann", [{ conversationId: conv, afterSeq: 0 }])).toEqual(new Map([[conv, 1]]));
    });

    it("prunes records at or behind a position, for one user and conversation", async () => {
      for (const seq of [2, 5, 8]) await store.record(scope, { conversationId: conv, seq, userIds: ["ann", "bob"], timeMs: T0 });
      await store.prune(scope, "ann", conv, 5);
      await store.prune(scope, "ann", conv, 5);
      expect(await store.count(scope, "ann", [{ conversationId: conv, afterSeq: 0 }])).toEqual(new Map([[conv, 1]]));
      expect(await store.count(scope, "bob", [{ conversationId: conv, afterSeq: 0 }])).toEqual(new Map([[conv, 3]]));
    });

    it("forgets every user's records of the given messages", async () => {
      await store.record(scope, { conversationId: conv, seq: 2, userIds: ["ann", "bob"], timeMs: T0 });
      await store.record(scope, { conversationId: conv, seq: 3, userIds: ["ann"], timeMs: T0 });
      await inst.b.mentions.forget(scope, conv, [2]);
      await store.forget(freshTenantScope(), conv, [3]);
      expect(await store.count(scope, "ann", [{ conversationId: conv, afterSeq: 0 }])).toEqual(new Map([[conv, 1]]));
      expect(await store.count(scope, "bob", [{ conversationId: conv, afterSeq: 0 }])).toEqual(new Map());
      // Several at once (a page of an erasure); seqs without records are fine.
      for (const seq of [4, 5, 6]) await store.record(scope, { conversationId: conv, seq, userIds: ["bob"], timeMs: T0 });
      await store.forget(scope, conv, [3, 4, 6, 99]);
      await store.forget(scope, conv, []);
      expect(await store.count(scope, "ann", [{ conversationId: conv, afterSeq: 0 }])).toEqual(new Map());
      expect(await store.count(scope, "bob", [{ conversationId: conv, afterSeq: 0 }])).toEqual(new Map([[conv, 1]]));
      await expect(store.forget(scope, conv, [-1])).rejects.toThrow(RangeError);
      await expect(
        store.forget(
          scope,
          conv,
          Array.from({ length: 1001 }, (_, i) => i),
        ),
      ).rejects.toThrow(RangeError);
    });

    it("keeps tenants apart", async () => {
      const other = freshTenantScope();
      await store.record(scope, { conversationId: conv, seq: 1, userIds: ["ann"], timeMs: T0 });
      expect(await store.count(other, "ann", [{ conversationId: conv, afterSeq: 0 }])).toEqual(new Map());
      await store.prune(other, "ann", conv, 10);
      expect(await store.count(scope, "ann", [{ conversationId: conv, afterSeq: 0 }])).toEqual(new Map([[conv, 1]]));
    });

    it("refuses arguments every adapter refuses", async () => {
      await expect(store.record({ tenantId: scope.tenantId } as TenantScope, { conversationId: conv, seq: 1, userIds: ["ann"], timeMs: T0 })).rejects.toThrow(TypeError);
      await expect(store.record(scope, { conversationId: conv, seq: -1, userIds: ["ann"], timeMs: T0 })).rejects.toThrow(RangeError);
      await expect(store.record(scope, { conversationId: conv, seq: 1, userIds: [""], timeMs: T0 })).rejects.toThrow(RangeError);
      await expect(store.count(scope, "a|b", [])).rejects.toThrow(RangeError);
      await expect(store.prune(scope, "ann", conv, -1)).rejects.toThrow(RangeError);
    });
  });
}
