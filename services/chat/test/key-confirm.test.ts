import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { EventSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { MessageSchema } from "@caas/gen/caas/chat/v1/message_pb.js";
import { FakeClock } from "@caas/shared/clock";
import type { EventLogStore } from "@caas/shared/eventing/log";
import { FailedPreconditionError } from "@caas/shared/errors";
import { createLocalKms } from "@caas/shared/sealing/kms-local";
import { freshTenantScope } from "@caas/shared/testing";
import { afterAll, describe, expect, it } from "vitest";
import { openChatStores } from "../src/chat-stores.js";
import type { DataKeyStore } from "../src/ports/data-key-store.js";
import { MessageKeyring } from "../src/message-keyring.js";
import { sealedEventLog } from "../src/sealed-event-log.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-key-confirm-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const conversationId = "0190d6a0-0000-7000-8000-0000000000c2";

function send(log: EventLogStore, scope: ReturnType<typeof freshTenantScope>, text: string) {
  return log.append(scope, {
    conversationId,
    eventId: `e-${text}`,
    actorId: "alice",
    clientMessageId: text,
    payloadHash: text,
    countable: true,
    encode: ({ seq }) =>
      toBinary(
        EventSchema,
        create(EventSchema, {
          conversationId,
          seq: BigInt(seq),
          eventId: `e-${text}`,
          actorId: "alice",
          payload: { case: "messageCreated", value: { message: create(MessageSchema, { id: `m-${text}`, seq: BigInt(seq), text }) } },
        }),
      ),
  });
}

/** The store with its `get` calls counted. */
function counting(store: DataKeyStore): DataKeyStore & { gets: number } {
  const counted = Object.assign(Object.create(store) as DataKeyStore, { gets: 0 });
  counted.get = (tenantId, keyId) => {
    counted.gets++;
    return store.get(tenantId, keyId);
  };
  return counted;
}

describe("writes under a cached data key that another instance destroyed (two keyrings, one store)", () => {
  it("are refused before their acknowledgement, the cache is dropped, and the next write seals under a new key", async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const stores = await openChatStores({ kind: "sqlite", path: join(dir, "chat.db") }, { clock });
    try {
      const kms = createLocalKms(new Uint8Array(32).fill(7));
      // Two chat instances: each its own keyring (its own 60 s cache) over the shared stores.
      const store = counting(stores.dataKeys);
      const a = new MessageKeyring({ store, kms, clock });
      const b = new MessageKeyring({ store: stores.dataKeys, kms, clock });
      const [scope, other] = [freshTenantScope(), freshTenantScope()];
      const logA = sealedEventLog(stores.events, a);
      const logB = sealedEventLog(stores.events, b);
      expect((await send(logA, scope, "before")).kind).toBe("appended");
      expect((await send(logA, other, "bystander")).kind).toBe("appended");
      const cached = (await a.current(scope.tenantId)).id;

      // B shreds well inside A's cache lifetime; A still holds the destroyed key in memory.
      expect(await b.shred(scope.tenantId)).toBe(1);
      expect((await a.current(scope.tenantId)).id).toBe(cached);
      await expect(send(logA, scope, "during")).rejects.toThrow(FailedPreconditionError);
      // The refused entry and the earlier one read as redacted on every instance; no acknowledged write reads so.
      expect((await logB.read(scope, conversationId, 0, 10)).map((e) => e.redacted)).toEqual([true, true]);

      // A dropped the tenant's keys: its next write makes a new key, confirmed and readable by B.
      const after = await send(logA, scope, "after");
      expect(after.kind).toBe("appended");
      expect((await a.current(scope.tenantId)).id).not.toBe(cached);
      const read = await logB.read(scope, conversationId, 2, 10);
      expect(read.map((e) => fromBinary(EventSchema, e.body).payload.value)).toHaveLength(1);
      expect(read.map((e) => e.redacted)).toEqual([false]);
      // The other tenant was never affected.
      expect((await logB.read(other, conversationId, 0, 10)).map((e) => e.redacted)).toEqual([false]);
    } finally {
      await stores.close();
    }
  });

  it("shares one store read among writes that commit while a read is in flight", async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const stores = await openChatStores({ kind: "sqlite", path: join(dir, "chat-2.db") }, { clock });
    try {
      const store = counting(stores.dataKeys);
      const keys = new MessageKeyring({ store, kms: createLocalKms(new Uint8Array(32).fill(9)), clock });
      const scope = freshTenantScope();
      const key = await keys.current(scope.tenantId);
      const before = store.gets;
      // One read starts for the first; the nine arriving while it runs share the next one.
      expect(await Promise.all(Array.from({ length: 10 }, () => keys.confirm(scope.tenantId, key.id)))).toEqual(Array(10).fill(true));
      expect(store.gets - before).toBe(2);
      // Each read starts after the call that waits for it: a later call reads again.
      expect(await keys.confirm(scope.tenantId, key.id)).toBe(true);
      expect(store.gets - before).toBe(3);
      await keys.shred(scope.tenantId);
      expect(await keys.confirm(scope.tenantId, key.id)).toBe(false);
    } finally {
      await stores.close();
    }
  });
});
