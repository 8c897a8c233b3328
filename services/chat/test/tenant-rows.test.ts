import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeClock } from "@caas/shared/clock";
import { newId } from "@caas/shared/ids";
import { freshTenantScope, infraEnv, RUN_PREFIX } from "@caas/shared/testing";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { afterAll, describe, expect, it } from "vitest";
import { openChatStores, type ChatBackend } from "../src/chat-stores.js";
import type { ChatStores } from "../src/ports/chat-stores.js";

const T0 = Date.UTC(2026, 0, 1);
const dir = mkdtempSync(join(tmpdir(), "caas-chat-tenant-rows-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A conversation of `scope` with two members, three logged events, a read position, a block, a mute and a data key. */
async function fill(stores: ChatStores, scope: TenantScope) {
  const id = newId();
  await stores.conversations.create(scope, { id, kind: "group", title: "secret title", avatarUrl: "", createdBy: "ann", createTimeMs: T0, joinPolicy: "invite_only" });
  for (const userId of ["ann", "bob"]) await stores.members.join(scope, { conversationId: id, userId, role: "member", joinedSeq: 1, joinTimeMs: T0 });
  for (let i = 0; i < 3; i++) {
    await stores.events.append(scope, { conversationId: id, eventId: newId(), actorId: "ann", clientMessageId: `c${i}`, payloadHash: "h", countable: true, encode: () => new Uint8Array([1, 2, 3]) });
  }
  await stores.readStates.moveRead(scope, { conversationId: id, userId: "bob", seq: 2, countableSeq: 2, timeMs: T0 });
  await stores.blocks.block(scope, { blockerId: "ann", blockedId: "bob", createTimeMs: T0 });
  await stores.dataKeys.insert({ tenantId: scope.tenantId, keyId: `k-${id.slice(0, 8)}`, generation: 1, wrapped: new Uint8Array(60), kekId: "kek", createTimeMs: T0 });
  return id;
}

/** The TenantRowEraser of ChatStores, on every backend: a deleted tenant's rows go, page by page; another tenant's and the data keys stay. */
function tenantRowsContract(name: string, backend: () => ChatBackend) {
  describe(`tenant rows erasure: ${name}`, () => {
    it("deletes every row of the tenant a page at a time, keeps its data keys and leaves other tenants alone", async () => {
      const stores = await openChatStores(backend(), { clock: new FakeClock(T0) });
      try {
        const doomed = freshTenantScope();
        const kept = freshTenantScope();
        const gone = await fill(stores, doomed);
        const stays = await fill(stores, kept);
        let calls = 0;
        let removed = 0;
        for (let more = true; more; calls++) {
          const page = await stores.tenantRows.eraseTenantRows(doomed.tenantId, 2);
          removed += page.removed;
          more = page.more;
          expect(calls).toBeLessThan(20);
        }
        // conversation, 2 members, 3 events, a read position, a block (and whatever projections hold): more than one page of 2.
        expect(calls).toBeGreaterThan(1);
        expect(removed).toBeGreaterThanOrEqual(8);
        expect(await stores.conversations.get(doomed, gone)).toBeUndefined();
        expect(await stores.members.get(doomed, gone, "ann")).toBeUndefined();
        expect(await stores.events.read(doomed, gone, 0, 10)).toEqual([]);
        expect(await stores.blocks.between(doomed, "ann", "bob")).toBe(false);
        expect(await stores.dataKeys.current(doomed.tenantId)).toBeDefined();
        // Idempotent: nothing left.
        expect(await stores.tenantRows.eraseTenantRows(doomed.tenantId, 2)).toEqual({ removed: 0, more: false });
        // The other tenant is whole.
        expect((await stores.conversations.get(kept, stays))?.title).toBe("secret title");
        expect(await stores.members.get(kept, stays, "bob")).toBeDefined();
        expect(await stores.events.read(kept, stays, 0, 10)).toHaveLength(3);
        expect(await stores.blocks.between(kept, "ann", "bob")).toBe(true);
      } finally {
        await stores.close();
      }
    });
  });
}

tenantRowsContract("sqlite", () => ({ kind: "sqlite", path: join(dir, `${newId()}.db`) }));

const mongoUrl = infraEnv("CAAS_MONGO_URL");
describe.skipIf(!mongoUrl)("on the MongoDB protocol (cluster; FerretDB here)", () => {
  tenantRowsContract("mongodb protocol", () => ({
    kind: "mongo",
    url: mongoUrl!,
    database: `${RUN_PREFIX}_chat_tenant_rows`,
    appName: "chat-tenant-rows-test",
    collectionPrefix: `t${newId().slice(-8)}_`,
  }));
});
