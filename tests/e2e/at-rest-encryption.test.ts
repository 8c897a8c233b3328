import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import Database from "better-sqlite3";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, inject, it, vi } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { MessageKeysInternalService, ReencryptionState } from "@caas/gen/caas/chat/v1/message_keys_internal_service_pb.js";
import { SearchService } from "@caas/gen/caas/search/v1/search_service_pb.js";
import { PeerDirectory } from "@caas/shared/clients";
import { systemClock } from "@caas/shared/clock";
import { createPeerServiceTokenSource, SERVICE_SECRET_FILE } from "@caas/shared/identity/service-tokens";
import { sealedKeyId } from "@caas/shared/sealing/box";
import { bearer, tenantWithUsers } from "../support/tenants.js";

const platform = inject("embedded");
const cluster = inject("cluster");

/** Where a word is stored (files, documents, records), and what each mode allows. */
interface Storage {
  /** The places holding `word`. */
  find(word: string): Promise<string[]>;
  /** Which of them may hold message words (the search index). */
  allowed(place: string): boolean;
  /** The key ids the tenant's stored log entries are sealed with ("plain" for unsealed ones). */
  keyIdsOf(tenantId: string): Promise<Set<string>>;
}

/** Every regular file under `dir` (stores, their WAL files, the bus file, logs) whose bytes contain `word`. */
function filesContaining(dir: string, word: string): string[] {
  const needle = Buffer.from(word);
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((name) => {
    const st = statSync(join(dir, name), { throwIfNoEntry: false });
    return st?.isFile() === true && readFileSync(join(dir, name)).includes(needle);
  });
}

/**
 * Sends ordinary messages holding marker words (text, custom data, an edit), checks that every
 * consumer got the plaintext (search finds it; reads show it), that the words are stored nowhere
 * but the search index, then rotates the tenant's key (re-encryption to the end) and shreds it.
 */
async function scenario(opts: { gateway: string; auth: string; chat: string; chat2?: string; adminCredential: string; serviceRoot: string; storage: Storage }) {
  const { gateway, storage } = opts;
  const words = ["text", "custom", "edit"].map((w) => `zqx${w}${randomBytes(5).toString("hex")}`) as [string, string, string];
  const t = await tenantWithUsers(gateway, opts.adminCredential, ["alice", "bob"], "at-rest");
  const client = <S extends Parameters<typeof createClient>[0]>(service: S, url: string, token: string) => createClient(service, createGrpcTransport({ baseUrl: url, interceptors: [bearer(token)] }));
  const alice = client(ChatService, gateway, t.token("alice"));
  const bob = client(ChatService, gateway, t.token("bob"));
  const search = client(SearchService, gateway, t.token("bob"));

  const conv = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: "at rest" })).conversation!;
  const sent = await alice.sendMessage({ conversationId: conv.id, clientMessageId: "m1", text: `hello ${words[0]}`, custom: { note: words[1] } });
  await alice.editMessage({ conversationId: conv.id, messageId: sent.messageId, text: `edited ${words[2]}`, custom: { note: words[1] } });

  // Consumers that need text opened the sealed events: search indexed the edit; reads show plaintext.
  await vi.waitFor(async () => expect((await search.searchMessages({ query: words[2] })).hits.map((h) => h.messageId)).toEqual([sent.messageId]), { timeout: 20_000, interval: 500 });
  const shown = async () => (await bob.getMessage({ conversationId: conv.id, messageId: sent.messageId })).message!;
  await expect(shown()).resolves.toMatchObject({ text: `edited ${words[2]}`, custom: { note: words[1] } });
  expect((await alice.listEditHistory({ conversationId: conv.id, messageId: sent.messageId })).revisions.map((r) => r.text)).toEqual([`hello ${words[0]}`, `edited ${words[2]}`]);
  expect((await bob.getConversation({ conversationId: conv.id })).conversation?.lastMessage?.textPreview).toMatch(/^(hello|edited) zqx/);

  // At rest: no word outside the search index (after the relay published everything).
  await vi.waitFor(async () => expect((await storage.keyIdsOf(t.tenantId)).has("plain")).toBe(false));
  for (const word of words) expect((await storage.find(word)).filter((p) => !storage.allowed(p))).toEqual([]);
  const before = await storage.keyIdsOf(t.tenantId);
  expect(before.size).toBe(1);

  // Rotation: new writes use the new key; the re-encryption reports progress and ends with every entry under it.
  const peers = new PeerDirectory();
  peers.set("auth", [opts.auth]);
  const tokens = createPeerServiceTokenSource({ service: "compliance", root: opts.serviceRoot, peers, clock: systemClock });
  const keys = client(MessageKeysInternalService, opts.chat, await tokens.token("chat"));
  expect((await keys.getReencryptionProgress({ tenantId: t.tenantId })).state).toBe(ReencryptionState.IDLE);
  // Service tokens only; a tenant's key id asked for under another tenant is not found; bad ids are refused.
  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => ConnectError.from(e).code,
    );
  const current = [...before][0]!;
  expect(await codeOf(client(MessageKeysInternalService, opts.chat, t.token("alice")).getDataKey({ tenantId: t.tenantId, keyId: current }))).toBe(Code.PermissionDenied);
  expect((await keys.getDataKey({ tenantId: t.tenantId, keyId: current })).key).toHaveLength(32);
  const stranger = await tenantWithUsers(gateway, opts.adminCredential, ["mallory"], "at-rest-stranger");
  expect(await codeOf(keys.getDataKey({ tenantId: stranger.tenantId, keyId: current }))).toBe(Code.NotFound);
  expect(await codeOf(keys.getDataKey({ tenantId: "not-a-uuid", keyId: current }))).toBe(Code.InvalidArgument);
  expect(await codeOf(keys.getDataKey({ tenantId: t.tenantId, keyId: "no spaces" }))).toBe(Code.InvalidArgument);
  const { keyId } = await keys.rotateDataKey({ tenantId: t.tenantId });
  expect(before.has(keyId)).toBe(false);
  await vi.waitFor(async () => expect((await keys.getReencryptionProgress({ tenantId: t.tenantId })).state).toBe(ReencryptionState.DONE), { timeout: 20_000, interval: 200 });
  const progress = await keys.getReencryptionProgress({ tenantId: t.tenantId });
  expect(progress).toMatchObject({ keyId, unreadable: 0n, error: "" });
  expect(progress.resealed).toBeGreaterThanOrEqual(4n);
  expect(progress.scanned).toBeGreaterThanOrEqual(progress.resealed - 1n);
  expect(await storage.keyIdsOf(t.tenantId)).toEqual(new Set([keyId]));
  await expect(shown()).resolves.toMatchObject({ text: `edited ${words[2]}` });

  // Crypto-shredding: the tenant's messages read as redacted, no error; its keys are gone.
  const other = await tenantWithUsers(gateway, opts.adminCredential, ["carol"], "at-rest-other");
  const carol = client(ChatService, gateway, other.token("carol"));
  const own = (await carol.createConversation({ type: ConversationType.GROUP, memberIds: [], title: "kept" })).conversation!;
  await carol.sendMessage({ conversationId: own.id, clientMessageId: "k", text: "kept" });
  // A second chat instance (cluster) holds the tenant's key in its cache from a write of its own.
  const second = opts.chat2 ? client(ChatService, opts.chat2, t.token("alice")) : undefined;
  await second?.sendMessage({ conversationId: conv.id, clientMessageId: "m-second", text: "through the second instance" });
  expect((await keys.shredTenantKeys({ tenantId: t.tenantId })).destroyed).toBe(2);
  expect((await keys.shredTenantKeys({ tenantId: t.tenantId })).destroyed).toBe(0);
  expect(await codeOf(keys.getDataKey({ tenantId: t.tenantId, keyId }))).toBe(Code.NotFound);
  const reader = client(ChatService, opts.chat, t.token("bob"));
  const page = await reader.listMessages({ conversationId: conv.id });
  expect(page.messages.length).toBeGreaterThan(0);
  for (const m of page.messages) expect([m.text, m.deleted]).toEqual(["", true]);
  expect((await reader.getConversation({ conversationId: conv.id })).conversation?.lastMessage?.textPreview ?? "").toBe("");
  // Another tenant is untouched; the shredded tenant writes on under a new key.
  expect((await carol.listMessages({ conversationId: own.id })).messages.map((m) => m.text)).toContain("kept");
  // The second instance refuses the write it sealed under its cached, destroyed key (not acknowledged), then writes under a new key.
  if (second) {
    expect(await codeOf(second.sendMessage({ conversationId: conv.id, clientMessageId: "m-stale", text: "under a destroyed key" }))).toBe(Code.FailedPrecondition);
    await second.sendMessage({ conversationId: conv.id, clientMessageId: "m-fresh", text: "after shredding, second instance" });
    expect((await reader.listMessages({ conversationId: conv.id })).messages.map((m) => m.text)).toContain("after shredding, second instance");
  }
  await client(ChatService, opts.chat, t.token("alice")).sendMessage({ conversationId: conv.id, clientMessageId: "m2", text: "after shredding" });
  expect((await reader.listMessages({ conversationId: conv.id })).messages.map((m) => m.text)).toContain("after shredding");
}

describe("encryption at rest of ordinary messages (embedded platform)", () => {
  it("keeps marker words out of every file but the search index (WAL and bus file included), rotates with re-encryption, shreds", async () => {
    const dir = platform.dataDir;
    const chatDb = join(dir, "chat.db");
    await scenario({
      gateway: platform.endpoints.gateway!,
      auth: platform.endpoints.auth!,
      chat: platform.endpoints.chat!,
      adminCredential: readFileSync(join(dir, "admin-credential"), "utf8").trim(),
      serviceRoot: readFileSync(join(dir, SERVICE_SECRET_FILE), "utf8").trim(),
      storage: {
        find: async (word) => filesContaining(dir, word),
        allowed: (file) => file.startsWith("search.db"),
        async keyIdsOf(tenantId) {
          const db = new Database(chatDb, { readonly: true, fileMustExist: true });
          try {
            const rows = db.prepare("SELECT body, published FROM event_log WHERE tenant_id = ?").all(tenantId) as { body: Buffer; published: number }[];
            // Unpublished rows count as plain until the relay took them (the bus must have them too).
            return new Set(rows.map((r) => (r.published ? (sealedKeyId(r.body) ?? "plain") : "plain")));
          } finally {
            db.close();
          }
        },
      },
    });
  }, 90_000);
});

describe.skipIf(!cluster)("encryption at rest of ordinary messages (cluster mode: MongoDB, Kafka)", () => {
  it("keeps marker words out of every MongoDB document and Kafka record, rotates with re-encryption, shreds", async () => {
    const c = cluster!;
    const url = process.env.CAAS_MONGO_URL!;
    const { MongoClient, BSON } = await import("mongodb");
    const mongo = await MongoClient.connect(url);
    try {
      const db = mongo.db(c.runPrefix);
      await scenario({
        gateway: c.instances.find((i) => i.service === "gateway")!.url,
        auth: c.instances.find((i) => i.service === "auth")!.url,
        chat: c.instances.find((i) => i.service === "chat")!.url,
        chat2: c.instances.filter((i) => i.service === "chat")[1]!.url,
        adminCredential: c.adminToken,
        serviceRoot: createHash("sha256").update(`caas-test-services:${c.runPrefix}`).digest("hex"),
        storage: {
          async find(word) {
            const needle = Buffer.from(word);
            const hits: string[] = [];
            for (const { name } of await db.listCollections({}, { nameOnly: true }).toArray()) {
              for await (const doc of db.collection(name).find({})) if (Buffer.from(BSON.serialize(doc)).includes(needle)) hits.push(`mongo:${name}/${String(doc._id)}`);
            }
            return [...hits, ...(await kafkaRecordsContaining(`${c.runPrefix}.caas.chat.events.v1`, needle))];
          },
          allowed: () => false,
          async keyIdsOf(tenantId) {
            const docs = await db.collection("chat_event_log").find({ tenantId }).toArray();
            return new Set(docs.map((d) => (d.published ? (sealedKeyId((d.body as { buffer: Uint8Array }).buffer) ?? "plain") : "plain")));
          },
        },
      });
    } finally {
      await mongo.close();
    }
  }, 180_000);
});

/** Every record of `topic` (all partitions, from the oldest retained) whose value holds `needle`. */
async function kafkaRecordsContaining(topic: string, needle: Buffer): Promise<string[]> {
  const { Kafka, logLevel } = await import("kafkajs");
  const kafka = new Kafka({ brokers: process.env.CAAS_KAFKA_BROKERS!.split(","), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const pending = new Map(ends.filter((p) => Number(p.high) > Number(p.low)).map((p) => [p.partition, Number(p.high)]));
  const hits: string[] = [];
  if (pending.size === 0) return hits;
  const consumer = kafka.consumer({ groupId: `scan-${randomBytes(6).toString("hex")}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachMessage: async ({ partition, message }) => {
          if (message.value?.includes(needle)) hits.push(`kafka:${topic}/${partition}/${message.offset}`);
          if (Number(message.offset) + 1 >= (pending.get(partition) ?? 0)) pending.delete(partition);
          if (pending.size === 0) resolve();
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return hits;
}
