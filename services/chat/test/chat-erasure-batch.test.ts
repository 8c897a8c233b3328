import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@connectrpc/connect";
import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { EventSchema, type Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import { toBinary } from "@bufbuild/protobuf";
import { connectMongo } from "@caas/shared/mongo";
import { RUN_PREFIX, infraEnv } from "@caas/shared/testing";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ChatBackend } from "../src/chat-stores.js";
import { registerChatRoutes } from "../src/routes.js";
import { backendWorld, type Tier1Client, type World } from "./support/harness.js";
import { internalClientAs } from "./support/router.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-erasure-batch-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Whether `text` occurs anywhere in the encoded events. */
function contains(events: Event[], text: string): boolean {
  return events.some((e) => Buffer.from(toBinary(EventSchema, e)).includes(Buffer.from(text)));
}

/** The MessageDeleted events of a log, by the id of the message they delete. */
function deletions(events: Event[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of events) if (e.payload.case === "messageDeleted") out.set(e.payload.value.messageId, (out.get(e.payload.value.messageId) ?? 0) + 1);
  return out;
}

/** EraseUserData deleting a page of messages at once (one batch append per page), on every chat backend. */
function erasureBatchSuite(name: string, backend: () => ChatBackend): void {
  describe(`EraseUserData by pages of messages: ${name}`, () => {
    let w: World;
    let alice: Tier1Client;
    let bob: Tier1Client;
    let svc: Client<typeof ChatInternalService>;
    let conv: string;
    let ids: string[];

    async function eraseAll(pageSize: number): Promise<bigint> {
      let pageToken = "";
      let erased = 0n;
      do {
        const page = await svc.eraseUserData({ tenantId: w.tenantId, userId: "alice", pageSize, pageToken });
        erased += page.messagesErased;
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      return erased;
    }

    beforeEach(async () => {
      w = await backendWorld(backend(), undefined, randomUUID());
      alice = w.as("alice");
      bob = w.as("bob");
      svc = internalClientAs((router) => registerChatRoutes(router, w.instance.impl, w.instance.internal), "svc:compliance");
      conv = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
      await bob.sendMessage({ conversationId: conv, clientMessageId: "b0", text: "bob's stays" });
      ids = [];
      for (let i = 0; i < 8; i++) ids.push((await alice.sendMessage({ conversationId: conv, clientMessageId: `a${i}`, text: `secret ${i}` })).messageId);
      await alice.editMessage({ conversationId: conv, messageId: ids[2]!, text: "secret edit" });
    });
    afterEach(() => w.close());

    it("deletes a page's messages in one batch: one MessageDeleted each, told to the relay, the projection and preview right", async () => {
      const commitsBefore = w.instance.commits.length;
      expect(await eraseAll(100)).toBe(8n);
      const { events, headSeq } = await bob.sync({ conversationId: conv });
      expect(events.map((e) => Number(e.seq))).toEqual(events.map((_, i) => i + 1));
      expect([...deletions(events)].sort()).toEqual(ids.map((id) => [id, 1] as const).sort());
      // Every appended MessageDeleted went to the relay, in seq order.
      const told = w.instance.commits.slice(commitsBefore);
      expect(told.map((e) => e.seq)).toEqual(Array.from({ length: 8 }, (_, i) => Number(headSeq) - 7 + i));
      const conversation = (await bob.getConversation({ conversationId: conv })).conversation!;
      expect(conversation.lastMessage).toMatchObject({ messageId: ids[7], textPreview: "", deleted: true });
      expect((await w.instance.stores.conversations.get(scopeForAdmin(w.tenantId), conv))?.lastSeq).toBe(Number(headSeq));
      const listed = (await bob.listMessages({ conversationId: conv })).messages;
      expect(listed.filter((m) => m.senderId === "alice").every((m) => m.deleted && m.text === "")).toBe(true);
      expect(listed.find((m) => m.senderId === "bob")?.text).toBe("bob's stays");
      expect(contains(events, "secret")).toBe(false);
    });

    it("a retry after a crash in the middle of a page's batch commits no MessageDeleted twice", async () => {
      const events = w.instance.stores.events;
      const appendBatch = events.appendBatch.bind(events);
      // The crash: the first three of the page's appends are committed, then the process dies.
      events.appendBatch = async (scope, inputs) => {
        await appendBatch(scope, inputs.slice(0, 3));
        throw new Error("crash");
      };
      await expect(eraseAll(100)).rejects.toThrow(/internal/);
      events.appendBatch = appendBatch;
      const crashed = deletions((await bob.sync({ conversationId: conv })).events);
      expect([...crashed.values()]).toEqual([1, 1, 1]);
      // The retry finds all eight unredacted and deletes them: three of the appends are duplicates.
      expect(await eraseAll(100)).toBe(8n);
      const after = await bob.sync({ conversationId: conv });
      expect([...deletions(after.events)].sort()).toEqual(ids.map((id) => [id, 1] as const).sort());
      expect(contains(after.events, "secret")).toBe(false);
    });

    it("a retry after a crash between the batch append and the redaction appends nothing", async () => {
      const events = w.instance.stores.events;
      const redactBatch = events.redactBatch.bind(events);
      events.redactBatch = async () => {
        throw new Error("crash");
      };
      await expect(eraseAll(100)).rejects.toThrow(/internal/);
      events.redactBatch = redactBatch;
      const head = (await bob.sync({ conversationId: conv })).headSeq;
      expect(await eraseAll(3)).toBe(8n);
      const after = await bob.sync({ conversationId: conv });
      expect(after.headSeq).toBe(head);
      expect([...deletions(after.events).values()]).toEqual(Array(8).fill(1));
      expect(contains(after.events, "secret")).toBe(false);
    });
  });
}

erasureBatchSuite("SQLite", () => ({ kind: "sqlite", path: join(dir, `chat-${randomUUID()}.db`) }));

const mongoUrl = infraEnv("CAAS_MONGO_URL");
const dbName = `${RUN_PREFIX}_chat_erasure_batch`;
describe.skipIf(!mongoUrl)("on the MongoDB protocol (FerretDB here)", () => {
  afterAll(async () => {
    const conn = await connectMongo(mongoUrl!, dbName);
    await conn.client.db(dbName).dropDatabase();
    await conn.close();
  });
  erasureBatchSuite("MongoDB", () => ({ kind: "mongo", url: mongoUrl!, database: dbName, appName: "chat-erasure-batch-test", collectionPrefix: `t${randomUUID().replace(/-/g, "").slice(0, 10)}_` }));
});
