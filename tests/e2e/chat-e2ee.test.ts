import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { create, equals } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, inject, it, vi } from "vitest";
import { ViolationsSchema } from "@caas/gen/buf/validate/validate_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { SearchService } from "@caas/gen/caas/search/v1/search_service_pb.js";
import { EncryptedContentSchema, type EncryptedContent } from "@caas/gen/caas/chat/v1/encrypted_pb.js";
import { BadRequestSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { bearer, tenantWithUsers } from "../support/tenants.js";

const platform = inject("embedded");
const cluster = inject("cluster");

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (!err) expect.fail("the call succeeded but should have failed");
  return err;
}

/** INVALID_ARGUMENT naming exactly `field` (the service's BadRequest or the schema's Violations). */
async function refused(p: Promise<unknown>, field: string): Promise<void> {
  const err = await failure(p);
  expect(err.code).toBe(Code.InvalidArgument);
  const fields = [
    ...err.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field)),
    ...err.findDetails(ViolationsSchema).flatMap((d) => d.violations.map((v) => v.field?.elements.map((e) => e.fieldName).join(".") ?? "")),
  ];
  expect(fields).toContain(field);
}

/** Random ciphertext (never containing the marker) for two of bob's devices. */
function envelopes(): EncryptedContent {
  const envelopes = [1, 2].map((deviceId) => ({ userId: "bob", deviceId, type: 3, ciphertext: new Uint8Array(randomBytes(120)) }));
  return create(EncryptedContentSchema, { scheme: { case: "deviceEnvelopes", value: { envelopes } } });
}

/** Whether two encrypted bodies are the same ciphertext. */
function same(a: EncryptedContent | undefined, b: EncryptedContent): boolean {
  return a !== undefined && equals(EncryptedContentSchema, a, b);
}

/** Every regular file under `dir` whose bytes contain `marker`. */
function filesContaining(dir: string, marker: string): string[] {
  const needle = Buffer.from(marker);
  const hits: string[] = [];
  for (const name of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    const path = join(dir, name);
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st?.isFile()) continue;
    if (readFileSync(path).includes(needle)) hits.push(name);
  }
  return hits;
}

/** Where a word is stored: the names of the files, documents or records holding it. */
type Scan = (word: string) => Promise<string[]>;

/**
 * Walks every refusal of an encrypted conversation with a plaintext marker, then checks with
 * `scan` that the marker is stored nowhere, and with `control` where a word sent in a plaintext
 * conversation is (ordinary messages are encrypted at rest too: only the search index holds words).
 */
async function walkThrough(gateway: string, adminCredential: string, scan: Scan, control: (hits: string[]) => void) {
  const marker = `zqxmarker${randomBytes(6).toString("hex")}`;
  const t = await tenantWithUsers(gateway, adminCredential, ["alice", "bob"], "chat-e2ee");
  const chat = (user: string) => createClient(ChatService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(t.token(user))] }));
  const alice = chat("alice");

  const secret = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: "secret", endToEndEncrypted: true })).conversation!;
  expect(secret.endToEndEncrypted).toBe(true);
  expect((await chat("bob").getConversation({ conversationId: secret.id })).conversation?.endToEndEncrypted).toBe(true);
  const plain = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: "plain" })).conversation!;
  expect(plain.endToEndEncrypted).toBe(false);

  // Plaintext in every shape is refused, naming the field; ciphertext is refused where nobody holds keys.
  await refused(alice.sendMessage({ conversationId: secret.id, clientMessageId: "p1", text: marker }), "text");
  await refused(alice.sendMessage({ conversationId: secret.id, clientMessageId: "p2", text: marker, encrypted: envelopes() }), "text");
  await refused(alice.sendMessage({ conversationId: secret.id, clientMessageId: "p3", custom: { note: marker } }), "custom");
  await refused(
    alice.sendMessage({ conversationId: secret.id, clientMessageId: "p4", encrypted: envelopes(), attachments: [{ mediaId: "0190a000-0000-7000-8000-000000000000", name: marker }] }),
    "attachments",
  );
  await refused(alice.sendMessage({ conversationId: plain.id, clientMessageId: "c1", encrypted: envelopes() }), "encrypted");
  // Malformed ciphertext: a repeated device, an empty envelope list.
  const twice = envelopes();
  if (twice.scheme.case === "deviceEnvelopes") twice.scheme.value.envelopes[1]!.deviceId = 1;
  await refused(alice.sendMessage({ conversationId: secret.id, clientMessageId: "m1", encrypted: twice }), "encrypted.device_envelopes.envelopes[1].device_id");
  await refused(
    alice.sendMessage({ conversationId: secret.id, clientMessageId: "m2", encrypted: { scheme: { case: "deviceEnvelopes", value: { envelopes: [] } } } }),
    "encrypted.device_envelopes.envelopes",
  );

  // Ciphertext is accepted, relayed as sent, and its retry is the same message.
  const content = envelopes();
  const sent = await alice.sendMessage({ conversationId: secret.id, clientMessageId: "e1", encrypted: content, mentionedUserIds: ["bob"] });
  expect((await alice.sendMessage({ conversationId: secret.id, clientMessageId: "e1", encrypted: content, mentionedUserIds: ["bob"] })).duplicate).toBe(true);
  expect((await failure(alice.sendMessage({ conversationId: secret.id, clientMessageId: "e1", encrypted: envelopes() }))).code).toBe(Code.AlreadyExists);
  const got = (await chat("bob").getMessage({ conversationId: secret.id, messageId: sent.messageId })).message!;
  expect(got.text).toBe("");
  expect(same(got.encrypted, content)).toBe(true);
  const mls = await alice.sendMessage({ conversationId: secret.id, clientMessageId: "e2", encrypted: { scheme: { case: "mlsMessage", value: new Uint8Array(randomBytes(300)) } } });
  expect(mls.seq).toBeGreaterThan(sent.seq);

  // Edits follow the same rule; a ciphertext edit replaces the body and is kept in the history.
  await refused(alice.editMessage({ conversationId: secret.id, messageId: sent.messageId, text: marker }), "text");
  await refused(alice.editMessage({ conversationId: secret.id, messageId: sent.messageId, custom: { note: marker } }), "custom");
  await refused(alice.editMessage({ conversationId: secret.id, messageId: sent.messageId }), "encrypted");
  const edited = envelopes();
  expect(same((await alice.editMessage({ conversationId: secret.id, messageId: sent.messageId, encrypted: edited })).message?.encrypted, edited)).toBe(true);
  const history = await alice.listEditHistory({ conversationId: secret.id, messageId: sent.messageId });
  expect(history.revisions.map((r, i) => same(r.encrypted, [content, edited][i]!))).toEqual([true, true]);

  // Reactions: emoji only.
  await refused(chat("bob").addReaction({ conversationId: secret.id, messageId: sent.messageId, reaction: marker }), "reaction");
  await refused(chat("bob").addReaction({ conversationId: secret.id, messageId: sent.messageId, reaction: ":thumbsup:" }), "reaction");
  await chat("bob").addReaction({ conversationId: secret.id, messageId: sent.messageId, reaction: "👍🏽" });
  await chat("bob").addReaction({ conversationId: secret.id, messageId: sent.messageId, reaction: "❤️" });
  expect((await alice.getMessage({ conversationId: secret.id, messageId: sent.messageId })).message?.reactions.map((r) => r.reaction).sort()).toEqual(["❤️", "👍🏽"].sort());

  // Forwarding in either direction would need the server to read or write plaintext.
  const plainMessage = await alice.sendMessage({ conversationId: plain.id, clientMessageId: "x1", text: "hello" });
  expect((await failure(alice.forwardMessage({ conversationId: secret.id, messageId: sent.messageId, targetConversationId: plain.id, clientMessageId: "f1" }))).code).toBe(Code.FailedPrecondition);
  expect((await failure(alice.forwardMessage({ conversationId: plain.id, messageId: plainMessage.messageId, targetConversationId: secret.id, clientMessageId: "f2" }))).code).toBe(
    Code.FailedPrecondition,
  );

  // A pair has one plaintext and one encrypted DIRECT conversation; each is found again.
  const d1 = (await alice.createConversation({ type: ConversationType.DIRECT, memberIds: ["bob"] })).conversation!;
  const d2 = (await alice.createConversation({ type: ConversationType.DIRECT, memberIds: ["bob"], endToEndEncrypted: true })).conversation!;
  expect(d2.id).not.toBe(d1.id);
  expect([d1.endToEndEncrypted, d2.endToEndEncrypted]).toEqual([false, true]);
  const again = await chat("bob").createConversation({ type: ConversationType.DIRECT, memberIds: ["alice"], endToEndEncrypted: true });
  expect([again.created, again.conversation?.id]).toEqual([false, d2.id]);
  await refused(chat("bob").sendMessage({ conversationId: d2.id, clientMessageId: "d", text: marker }), "text");
  await chat("bob").sendMessage({ conversationId: d2.id, clientMessageId: "d", encrypted: envelopes() });

  // The search index holds nothing of the encrypted conversation.
  const searchable = await chat("bob").listMessages({ conversationId: secret.id });
  expect(searchable.messages.every((m) => m.text === "" && m.encrypted !== undefined)).toBe(true);

  // No refused plaintext reached a store, the bus file or a log under the data directory; the
  // same scan finds a word sent in the plaintext conversation where the mode's search index is.
  expect(await scan(marker)).toEqual([]);
  const word = `zqxcontrol${randomBytes(6).toString("hex")}`;
  await alice.sendMessage({ conversationId: plain.id, clientMessageId: "x2", text: word });
  const search = createClient(SearchService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(t.token("bob"))] }));
  await vi.waitFor(async () => expect((await search.searchMessages({ query: word })).hits).toHaveLength(1), { timeout: 30_000, interval: 500 });
  await vi.waitFor(async () => control(await scan(word)), { timeout: 10_000, interval: 500 });
}

/** Every document of the run's MongoDB database whose BSON holds `word`, as `collection/_id`. */
async function mongoDocumentsContaining(url: string, dbName: string, word: string): Promise<string[]> {
  const { MongoClient, BSON } = await import("mongodb");
  const client = await MongoClient.connect(url);
  try {
    const db = client.db(dbName);
    const needle = Buffer.from(word);
    const hits: string[] = [];
    for (const { name } of await db.listCollections({}, { nameOnly: true }).toArray()) {
      for await (const doc of db.collection(name).find({})) if (Buffer.from(BSON.serialize(doc)).includes(needle)) hits.push(`${name}/${String(doc._id)}`);
    }
    return hits;
  } finally {
    await client.close();
  }
}

describe("end-to-end encrypted conversations (embedded platform, through the gateway)", () => {
  it("accept ciphertext only: plaintext sends, edits, text reactions and forwards are refused, and the plaintext reaches no store or bus", async () => {
    const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();
    // Embedded: the word is in the search index's SQLite file (FTS5) and nowhere else.
    await walkThrough(
      platform.endpoints.gateway!,
      adminCredential,
      async (word) => filesContaining(platform.dataDir, word),
      (hits) => {
        expect(hits.length).toBeGreaterThan(0);
        expect(hits.filter((h) => !h.startsWith("search.db"))).toEqual([]);
      },
    );
  }, 60_000);
});

describe.skipIf(!cluster)("end-to-end encrypted conversations (cluster mode: MongoDB, Kafka, two chat instances)", () => {
  it("accept ciphertext only, and the refused plaintext is in no MongoDB document", async () => {
    const c = cluster!;
    const url = process.env.CAAS_MONGO_URL!;
    // Cluster: the search index is Elasticsearch; no MongoDB document holds the word.
    await walkThrough(
      c.instances.find((i) => i.service === "gateway")!.url,
      c.adminToken,
      (word) => mongoDocumentsContaining(url, c.runPrefix, word),
      (hits) => expect(hits).toEqual([]),
    );
  }, 120_000);
});
