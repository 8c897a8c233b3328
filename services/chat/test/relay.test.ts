import { isSealed } from "@caas/shared/sealing/box";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { CHAT_EVENTS } from "@caas/shared/eventing/topics";
import { createCorrelationInterceptor } from "@caas/shared/interceptors/correlation";
import { createLogger } from "@caas/shared/logger";
import { createSqliteEventBus } from "@caas/shared/eventing/sqlite";
import { loadConfig } from "@caas/shared/config";
import { PeerDirectory } from "@caas/shared/clients";
import { systemClock } from "@caas/shared/clock";
import type { BusRecord, EventBus } from "@caas/shared/eventing/bus";
import { freshTenantScope } from "@caas/shared/testing";
import { afterAll, describe, expect, it } from "vitest";
import { createChatService } from "../src/index.js";
import { chatClientAs } from "./support/router.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-relay-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const logger = createLogger({ service: "chat", instance: "test", level: "silent" });

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function collect(bus: EventBus, group: string, into: BusRecord<typeof CHAT_EVENTS.schema>[]) {
  return bus.subscribe(CHAT_EVENTS, { group, from: "earliest" }, async (r) => {
    into.push(r);
  });
}

describe("chat composition root and outbox relay", () => {
  it("publishes every commit to caas.chat.events.v1 with tenant, conversation and the request's correlation id", async () => {
    const dataDir = join(dir, "data");
    const config = loadConfig({ CAAS_MODE: "embedded", CAAS_DATA_DIR: dataDir, CAAS_LOG_LEVEL: "silent" });
    const bus = await createSqliteEventBus({ path: join(dir, "bus.db"), clock: systemClock, logger });
    const definition = await createChatService({ config, logger, clock: systemClock, peers: new PeerDirectory(), bus });
    const tenantId = freshTenantScope().tenantId;
    const client = (correlationId: string) =>
      chatClientAs(definition.register, `${tenantId}/alice`, { outer: [createCorrelationInterceptor({ logger })], headers: { "x-correlation-id": correlationId } });
    try {
      expect(definition.name).toBe("chat");
      await definition.start!();
      const records: BusRecord<typeof CHAT_EVENTS.schema>[] = [];
      const sub = await collect(bus, "relay-test", records);
      const { conversation } = await client("corr-create").createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] });
      const conv = conversation!.id;
      await client("corr-send-1").sendMessage({ conversationId: conv, clientMessageId: "m1", text: "one" });
      await client("corr-send-2").sendMessage({ conversationId: conv, clientMessageId: "m2", text: "two" });
      // A retry commits nothing, so it publishes nothing.
      await client("corr-retry").sendMessage({ conversationId: conv, clientMessageId: "m1", text: "one" });
      await until(() => records.length >= 3, "three records");
      await sub.close();
      expect(records.map((r) => [r.key, r.headers["x-correlation-id"], r.value.tenantId, r.value.conversationId, r.value.correlationId])).toEqual([
        [conv, "corr-create", tenantId, conv, "corr-create"],
        [conv, "corr-send-1", tenantId, conv, "corr-send-1"],
        [conv, "corr-send-2", tenantId, conv, "corr-send-2"],
      ]);
      // Entries travel sealed at rest (ADR 0120): the header in the clear, the Event encrypted.
      const sealed = records.map((r) => (r.value.payload.case === "sealedEvent" ? r.value.payload.value : undefined));
      expect(sealed.map((e) => [Number(e?.header?.seq), e?.header?.payload.case, e?.countable])).toEqual([
        [1, undefined, false],
        [2, undefined, true],
        [3, undefined, true],
      ]);
      for (const e of sealed) expect(isSealed(e!.sealed)).toBe(true);
      expect(Buffer.from(sealed[1]!.sealed).includes(Buffer.from("one"))).toBe(false);

      // A call finishing after drain() commits; close() publishes it before releasing the stores.
      await definition.drain!();
      await client("corr-late").sendMessage({ conversationId: conv, clientMessageId: "m3", text: "late" });
      await definition.close!();
      const late: BusRecord<typeof CHAT_EVENTS.schema>[] = [];
      const again = await collect(bus, "relay-test", late);
      await until(() => late.length >= 1, "the late record");
      await again.close();
      expect(late.map((r) => [r.headers["x-correlation-id"], r.value.payload.case === "sealedEvent" ? Number(r.value.payload.value.header?.seq) : 0])).toEqual([["corr-late", 4]]);
    } finally {
      await definition.close!();
      await bus.close();
    }
  });

  it("keeps what was acknowledged across a restart on the same data directory", async () => {
    const dataDir = join(dir, "restart");
    const config = loadConfig({ CAAS_MODE: "embedded", CAAS_DATA_DIR: dataDir, CAAS_LOG_LEVEL: "silent" });
    const bus = await createSqliteEventBus({ path: join(dir, "bus2.db"), clock: systemClock, logger });
    const tenantId = freshTenantScope().tenantId;
    try {
      const first = await createChatService({ config, logger, clock: systemClock, peers: new PeerDirectory(), bus });
      const alice = chatClientAs(first.register, `${tenantId}/alice`);
      const { conversation } = await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] });
      await alice.createConversation({ type: ConversationType.GROUP });
      const ack = await alice.sendMessage({ conversationId: conversation!.id, clientMessageId: "m1", text: "kept" });
      const page1 = await alice.listConversations({ pageSize: 1 });
      expect(page1.nextPageToken).not.toBe("");
      await first.close!();
      const second = await createChatService({ config, logger, clock: systemClock, peers: new PeerDirectory(), bus });
      try {
        const bob = chatClientAs(second.register, `${tenantId}/bob`);
        const { message } = await bob.getMessage({ conversationId: conversation!.id, messageId: ack.messageId });
        expect(message?.text).toBe("kept");
        // The page token secret is kept too: a token from before the restart still works.
        const again = chatClientAs(second.register, `${tenantId}/alice`);
        const page2 = await again.listConversations({ pageSize: 1, pageToken: page1.nextPageToken });
        expect(page2.conversations).toHaveLength(1);
        expect(page2.conversations[0]!.conversation!.id).not.toBe(page1.conversations[0]!.conversation!.id);
        expect((await again.sendMessage({ conversationId: conversation!.id, clientMessageId: "m1", text: "kept" })).duplicate).toBe(true);
      } finally {
        await second.close!();
      }
    } finally {
      await bus.close();
    }
  });
});
