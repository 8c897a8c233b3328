import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { MediaInternalService } from "@caas/gen/caas/media/v1/media_internal_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { connectMongo } from "@caas/shared/mongo";
import { createPeerClient, PeerDirectory } from "@caas/shared/clients";
import { FakeClock } from "@caas/shared/clock";
import { newId } from "@caas/shared/ids";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import { toConnectError } from "@caas/shared/errors";
import { infraEnv, RUN_PREFIX } from "@caas/shared/testing";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { createGrpcMediaAttacher } from "../src/adapters/media-attacher-grpc.js";
import type { ChatBackend } from "../src/chat-stores.js";
import { backendWorld, sqliteWorld, type Tier1Client, type World } from "./support/harness.js";
import { openMediaWorld, type MediaWorld, type TestFile } from "./support/media.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-attachments-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The error a call failed with, as the host's error interceptor maps it for the caller. */
async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => toConnectError(e),
  );
  if (!err) expect.fail("the call succeeded but should have failed");
  return err;
}

const photo: TestFile = { name: "photo.png", mimeType: "image/png", bytes: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]) };
const notes: TestFile = { name: "notes.txt", mimeType: "text/plain; charset=utf-8", bytes: new TextEncoder().encode("hello notes") };

/** The suite on one chat backend; media is the real service on SQLite either way. */
function attachmentSuite(name: string, backend: () => ChatBackend): void {
  describe(`SendMessage with attachments, through the real media service in-process (tier 1, chat on ${name})`, () => {
    let w: World;
    let m: MediaWorld;
    let alice: Tier1Client;
    let bob: Tier1Client;
    let conversationId: string;

    beforeEach(async () => {
      const clock = new FakeClock();
      m = await openMediaWorld(dir, clock, () => w.instance);
      w = await backendWorld(backend(), undefined, randomUUID(), { media: m.attacher, clock });
      alice = w.as("alice");
      bob = w.as("bob");
      conversationId = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
    });
    afterEach(async () => {
      await w.close();
      await m.close();
    });

    /** The log head, to show that a refused send committed nothing. */
    const head = async (id = conversationId) => (await w.instance.stores.events.head(scopeForAdmin(w.tenantId), id)).seq;

    it("fills type and size from the READY media record, the name from the request or the upload; members may then read the media", async () => {
      const a = await m.ready(w.tenantId, "alice", photo);
      const b = await m.ready(w.tenantId, "alice", notes);
      // Bob cannot read alice's upload before it is attached to a conversation he is in.
      expect((await failure(m.as(w.tenantId, "bob").getMedia({ mediaId: a.id }))).code).toBe(Code.NotFound);
      const ack = await alice.sendMessage({
        conversationId,
        clientMessageId: "att-1",
        // Output-only fields sent by a client are ignored.
        attachments: [
          { mediaId: a.id, mimeType: "application/x-lie", sizeBytes: 1n },
          { mediaId: b.id.toUpperCase(), name: "Meeting notes.txt" },
        ],
      });
      const { message } = await bob.getMessage({ conversationId, messageId: ack.messageId });
      expect(message!.text).toBe("");
      expect(message!.attachments.map((x) => ({ mediaId: x.mediaId, mimeType: x.mimeType, sizeBytes: x.sizeBytes, name: x.name }))).toEqual([
        { mediaId: a.id, mimeType: "image/png", sizeBytes: 7n, name: "photo.png" },
        { mediaId: b.id, mimeType: "text/plain; charset=utf-8", sizeBytes: 11n, name: "Meeting notes.txt" },
      ]);
      const listed = await bob.listMessages({ conversationId });
      expect(listed.messages[0]!.attachments).toHaveLength(2);
      const conv = await bob.getConversation({ conversationId });
      expect(conv.conversation?.lastMessage?.attachmentCount).toBe(2);
      // Attached: the other member reads it; a user outside the conversation still does not.
      expect((await m.as(w.tenantId, "bob").getMedia({ mediaId: a.id })).media?.name).toBe("photo.png");
      expect((await m.as(w.tenantId, "bob").getDownloadUrl({ mediaId: b.id })).url).toMatch(/^http:\/\/127\.0\.0\.1:1\/blobs\//);
      expect((await failure(m.as(w.tenantId, "carol").getDownloadUrl({ mediaId: a.id }))).code).toBe(Code.NotFound);
    });

    it("NOT_FOUND naming the attachment for unknown media, someone else's upload and another tenant's media; nothing is committed", async () => {
      await alice.sendMessage({ conversationId, clientMessageId: "m0", text: "before" });
      const before = await head();
      const mine = await m.ready(w.tenantId, "alice", photo);
      const bobs = await m.ready(w.tenantId, "bob", notes);
      const otherTenant = randomUUID();
      const foreign = await m.ready(otherTenant, "alice", photo);

      let err = await failure(alice.sendMessage({ conversationId, clientMessageId: "x1", attachments: [{ mediaId: newId() }] }));
      expect([err.code, err.rawMessage]).toEqual([Code.NotFound, "attachments[0].media_id not found"]);
      // Bob's upload is not alice's to attach, even in a conversation both are in.
      err = await failure(alice.sendMessage({ conversationId, clientMessageId: "x2", text: "yours", attachments: [{ mediaId: mine.id }, { mediaId: bobs.id }] }));
      expect([err.code, err.rawMessage]).toEqual([Code.NotFound, "attachments[1].media_id not found"]);
      err = await failure(alice.sendMessage({ conversationId, clientMessageId: "x3", attachments: [{ mediaId: foreign.id }] }));
      expect(err.code).toBe(Code.NotFound);
      expect(await head()).toBe(before);
      // A failed attempt did not claim the client_message_id.
      expect((await alice.sendMessage({ conversationId, clientMessageId: "x2", attachments: [{ mediaId: mine.id }] })).duplicate).toBe(false);
    });

    it("FAILED_PRECONDITION for media still PENDING, and a deleted upload is NOT_FOUND", async () => {
      const ready = await m.ready(w.tenantId, "alice", photo);
      const pending = await m.pending(w.tenantId, "alice", notes);
      const before = await head();
      const err = await failure(alice.sendMessage({ conversationId, clientMessageId: "p1", attachments: [{ mediaId: ready.id }, { mediaId: pending.id }] }));
      expect(err.code).toBe(Code.FailedPrecondition);
      expect(err.rawMessage).toMatch(/^attachments\[1\]\.media_id: .*PENDING/);
      expect(await head()).toBe(before);
      await m.as(w.tenantId, "alice").deleteMedia({ mediaId: ready.id });
      expect((await failure(alice.sendMessage({ conversationId, clientMessageId: "p2", attachments: [{ mediaId: ready.id }] }))).code).toBe(Code.NotFound);
    });

    it("an idempotent retry returns the original ack without asking media again; another payload under that id is ALREADY_EXISTS", async () => {
      const a = await m.ready(w.tenantId, "alice", photo);
      const b = await m.ready(w.tenantId, "alice", notes);
      const first = await alice.sendMessage({ conversationId, clientMessageId: "r1", text: "look", attachments: [{ mediaId: a.id, name: "cat.png" }] });
      // Media would now answer NOT_FOUND for a.id: the retry is recognised before it is asked.
      await m.as(w.tenantId, "alice").deleteMedia({ mediaId: a.id });
      const retry = await alice.sendMessage({ conversationId, clientMessageId: "r1", text: "look", attachments: [{ mediaId: a.id, name: "cat.png" }] });
      expect(retry).toMatchObject({ messageId: first.messageId, seq: first.seq, duplicate: true });
      for (const attachments of [[{ mediaId: a.id, name: "dog.png" }], [{ mediaId: a.id }], [{ mediaId: b.id, name: "cat.png" }], [{ mediaId: a.id, name: "cat.png" }, { mediaId: b.id }], []]) {
        const err = await failure(alice.sendMessage({ conversationId, clientMessageId: "r1", text: "look", attachments }));
        expect(err.code).toBe(Code.AlreadyExists);
      }
      expect((await alice.listMessages({ conversationId })).messages.filter((x) => x.clientMessageId === "r1")).toHaveLength(1);
    });

    it("forwarding copies the attachments and attaches them to the target conversation, for its members to read", async () => {
      const a = await m.ready(w.tenantId, "alice", photo);
      const sent = await alice.sendMessage({ conversationId, clientMessageId: "f1", text: "pic", attachments: [{ mediaId: a.id, name: "holiday.png" }] });
      // Bob forwards alice's message to a conversation alice is not in.
      const target = (await bob.createConversation({ type: ConversationType.GROUP, memberIds: ["dave"] })).conversation!.id;
      expect((await failure(m.as(w.tenantId, "dave").getMedia({ mediaId: a.id }))).code).toBe(Code.NotFound);
      const fwd = await bob.forwardMessage({ conversationId, messageId: sent.messageId, targetConversationId: target, clientMessageId: "fw1" });
      const { message } = await w.as("dave").getMessage({ conversationId: target, messageId: fwd.messageId });
      expect(message!.forwardedFrom).toMatchObject({ conversationId, messageId: sent.messageId, senderId: "alice" });
      expect(message!.attachments.map((x) => [x.mediaId, x.mimeType, x.sizeBytes, x.name])).toEqual([[a.id, "image/png", 7n, "holiday.png"]]);
      expect((await m.as(w.tenantId, "dave").getDownloadUrl({ mediaId: a.id })).url).not.toBe("");
      // A retry of the forward is the same message.
      expect(await bob.forwardMessage({ conversationId, messageId: sent.messageId, targetConversationId: target, clientMessageId: "fw1" })).toMatchObject({
        messageId: fwd.messageId,
        duplicate: true,
      });
      // Once its owner deleted the media, the message can no longer be forwarded.
      await m.as(w.tenantId, "alice").deleteMedia({ mediaId: a.id });
      const before = await head(target);
      const err = await failure(bob.forwardMessage({ conversationId, messageId: sent.messageId, targetConversationId: target, clientMessageId: "fw2" }));
      expect(err.code).toBe(Code.FailedPrecondition);
      expect(await head(target)).toBe(before);
    });

    it("keeps attachments through edits; delete for everyone clears them", async () => {
      const a = await m.ready(w.tenantId, "alice", photo);
      const sent = await alice.sendMessage({ conversationId, clientMessageId: "d1", text: "draft", attachments: [{ mediaId: a.id }] });
      await alice.editMessage({ conversationId, messageId: sent.messageId, text: "final" });
      let { message } = await bob.getMessage({ conversationId, messageId: sent.messageId });
      expect([message!.text, message!.attachments.map((x) => x.mediaId)]).toEqual(["final", [a.id]]);
      await alice.deleteMessage({ conversationId, messageId: sent.messageId });
      ({ message } = await bob.getMessage({ conversationId, messageId: sent.messageId }));
      expect([message!.deleted, message!.text, message!.attachments]).toEqual([true, "", []]);
      expect((await bob.getConversation({ conversationId })).conversation?.lastMessage).toMatchObject({ deleted: true, attachmentCount: 0 });
      const synced = await bob.sync({ conversationId, afterSeq: 0n });
      const created = synced.events.find((e) => e.payload.case === "messageCreated" && e.payload.value.message?.id === sent.messageId);
      expect(created?.payload.case === "messageCreated" && created.payload.value.message?.attachments).toEqual([]);
    });

    it("rejects malformed attachment lists with INVALID_ARGUMENT", async () => {
      const a = await m.ready(w.tenantId, "alice", photo);
      const bad = async (attachments: { mediaId: string; name?: string }[], field: string) => {
        const err = await failure(alice.sendMessage({ conversationId, clientMessageId: "v", text: "t", attachments }));
        expect([err.code, err.rawMessage.split(":")[0]]).toEqual([Code.InvalidArgument, field]);
      };
      await bad(
        Array.from({ length: 11 }, () => ({ mediaId: newId() })),
        "attachments",
      );
      await bad([{ mediaId: a.id }, { mediaId: a.id.toUpperCase() }], "attachments");
      await bad([{ mediaId: "not-a-uuid" }], "attachments[0].media_id");
      await bad([{ mediaId: a.id, name: "../etc/passwd" }], "attachments[0].name");
      await bad([{ mediaId: a.id, name: "x".repeat(256) }], "attachments[0].name");
      await bad([{ mediaId: a.id, name: "tab\there" }], "attachments[0].name");
      // Ten are fine.
      const ten = await Promise.all(Array.from({ length: 10 }, (_, i) => m.ready(w.tenantId, "alice", { ...notes, name: `n${i}.txt` })));
      const ack = await alice.sendMessage({ conversationId, clientMessageId: "ten", attachments: ten.map((x) => ({ mediaId: x.id })) });
      expect((await alice.getMessage({ conversationId, messageId: ack.messageId })).message!.attachments.map((x) => x.name)).toEqual(ten.map((_, i) => `n${i}.txt`));
    });
  });
}

attachmentSuite("SQLite", () => ({ kind: "sqlite", path: join(dir, `chat-${randomUUID()}.db`) }));

const mongoUrl = infraEnv("CAAS_MONGO_URL");
const dbName = `${RUN_PREFIX}_chat_attachments`;
describe.skipIf(!mongoUrl)("on the MongoDB protocol (FerretDB here)", () => {
  afterAll(async () => {
    const conn = await connectMongo(mongoUrl!, dbName);
    await conn.client.db(dbName).dropDatabase();
    await conn.close();
  });
  attachmentSuite("MongoDB", () => ({ kind: "mongo", url: mongoUrl!, database: dbName, appName: "chat-attachments-test", collectionPrefix: `t${randomUUID().replace(/-/g, "").slice(0, 10)}_` }));
});

describe("SendMessage with attachments when media cannot be reached", () => {
  it("answers UNAVAILABLE and commits nothing; messages without attachments still go through", async () => {
    // A real peer client whose address refuses connections, as a stopped media service would.
    const peers = new PeerDirectory();
    peers.set("media", ["http://127.0.0.1:1"]);
    const attacher = createGrpcMediaAttacher({ client: createPeerClient(MediaInternalService, "media", peers, { defaultTimeoutMs: 2_000 }), serviceToken: async () => "t" });
    const w = await sqliteWorld(dir, undefined, randomUUID(), { media: attacher });
    const unwired = await sqliteWorld(dir, undefined, randomUUID());
    try {
      for (const world of [w, unwired]) {
        const alice = world.as("alice");
        const conversationId = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
        const headBefore = (await world.instance.stores.events.head(scopeForAdmin(world.tenantId), conversationId)).seq;
        const err = await failure(alice.sendMessage({ conversationId, clientMessageId: "u1", text: "x", attachments: [{ mediaId: newId() }] }));
        expect(err.code).toBe(Code.Unavailable);
        expect((await world.instance.stores.events.head(scopeForAdmin(world.tenantId), conversationId)).seq).toBe(headBefore);
        expect((await alice.sendMessage({ conversationId, clientMessageId: "u1", text: "x" })).duplicate).toBe(false);
      }
    } finally {
      await w.close();
      await unwired.close();
    }
  });
});
