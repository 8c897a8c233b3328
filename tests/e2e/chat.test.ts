import { readFileSync } from "node:fs";
import { join } from "node:path";
import { toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { ChatService, type SendMessageResponse } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { ConversationType, JoinPolicy } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { RetryInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { EventSchema, type Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import { MemberRole } from "@caas/gen/caas/chat/v1/member_pb.js";

const platform = inject("embedded");
const cluster = inject("cluster");

const headers =
  (h: Record<string, string>): Interceptor =>
  (next) =>
  (req) => {
    for (const [k, v] of Object.entries(h)) req.header.set(k, v);
    return next(req);
  };
const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });

/** gRPC over HTTP/2 and Connect over HTTP/1.1 to one base URL, presenting `h`. */
function transports(baseUrl: string, h: Record<string, string> = {}): Record<string, Transport> {
  return {
    "gRPC over HTTP/2": createGrpcTransport({ baseUrl, interceptors: [headers(h)] }),
    "Connect over HTTP/1.1": createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [headers(h)] }),
  };
}

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (!err) expect.fail("the call succeeded but should have failed");
  return err;
}

/** A fresh tenant with users and an access token per (user, device), issued by the running auth service. */
async function tenantWithUsers(authUrl: string, adminCredential: string, userIds: string[], devices = ["d1"]) {
  const admin = createClient(TenantAdminService, createGrpcTransport({ baseUrl: authUrl, interceptors: [headers(bearer(adminCredential))] }));
  const { tenant } = await admin.createTenant({ name: `chat-e2e-${Date.now()}` });
  const { secret } = await admin.createApiKey({ tenantId: tenant!.id, name: "backend" });
  const backend = createClient(UserAdminService, createGrpcTransport({ baseUrl: authUrl, interceptors: [headers(bearer(secret))] }));
  const tokens: Record<string, string> = {};
  for (const userId of userIds) {
    await backend.upsertUser({ userId, displayName: userId });
    for (const deviceId of devices) tokens[`${userId}/${deviceId}`] = (await backend.issueUserToken({ userId, deviceId })).tokens!.accessToken;
  }
  return { tenantId: tenant!.id, token: (user: string, device = "d1") => tokens[`${user}/${device}`]! };
}

/** All events of a conversation, paging Sync. */
async function syncAll(client: Client<typeof ChatService>, conversationId: string): Promise<Event[]> {
  const out: Event[] = [];
  for (let after = 0n; ;) {
    const page = await client.sync({ conversationId, afterSeq: after, limit: 500 });
    out.push(...page.events);
    if (!page.hasMore) return out;
    after = page.events[page.events.length - 1]!.seq;
  }
}

/** Whether `text` occurs in any of the encoded events (every field, nested ones too). */
function eventsContain(events: Event[], text: string): boolean {
  return events.some((e) => Buffer.from(toBinary(EventSchema, e)).includes(Buffer.from(text)));
}

/**
 * Chat core II through real clients: edit, react, pin, delete. The deleted body is gone from
 * ListMessages, GetMessage, ListEditHistory and Sync; each operation's event shows in Sync.
 */
async function editReactPinDelete(alice: Client<typeof ChatService>, bob: Client<typeof ChatService>, stranger: Client<typeof ChatService>) {
  const { conversation } = await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: "core II" });
  const id = conversation!.id;
  const { messageId } = await bob.sendMessage({ conversationId: id, clientMessageId: "core2-1", text: "original secret" });
  const ids = { conversationId: id, messageId };
  expect((await bob.editMessage({ ...ids, text: "edited secret" })).message?.text).toBe("edited secret");
  expect((await failure(alice.editMessage({ ...ids, text: "not mine" }))).code).toBe(Code.PermissionDenied);
  expect((await alice.getMessage(ids)).message?.text).toBe("edited secret");
  expect((await alice.listEditHistory(ids)).revisions.map((r) => r.text)).toEqual(["original secret", "edited secret"]);
  await alice.addReaction({ ...ids, reaction: "👍" });
  await alice.addReaction({ ...ids, reaction: "👍" });
  await bob.addReaction({ ...ids, reaction: "👍" });
  expect((await bob.getMessage(ids)).message?.reactions.map((r) => [r.reaction, r.count, r.reacted])).toEqual([["👍", 2, true]]);
  expect((await failure(bob.pinMessage(ids))).code).toBe(Code.PermissionDenied);
  await alice.pinMessage(ids);
  expect((await bob.listPins({ conversationId: id })).pins.map((p) => [p.message?.id, p.pinnedBy])).toEqual([[messageId, "alice"]]);
  for (const probe of [
    () => stranger.editMessage({ ...ids, text: "x" }),
    () => stranger.deleteMessage(ids),
    () => stranger.addReaction({ ...ids, reaction: "👍" }),
    () => stranger.pinMessage(ids),
    () => stranger.listPins({ conversationId: id }),
    () => stranger.listEditHistory(ids),
  ]) {
    expect((await failure(probe())).code).toBe(Code.NotFound);
  }
  await bob.deleteMessage(ids);
  expect((await failure(bob.addReaction({ ...ids, reaction: "❤️" }))).code).toBe(Code.FailedPrecondition);

  const listed = (await alice.listMessages({ conversationId: id })).messages;
  expect(listed.map((m) => [m.id, m.text, m.deleted])).toEqual([[messageId, "", true]]);
  expect((await alice.getMessage(ids)).message).toMatchObject({ text: "", deleted: true });
  expect((await alice.listEditHistory(ids)).revisions).toEqual([]);
  expect((await alice.getConversation({ conversationId: id })).conversation?.lastMessage).toMatchObject({ textPreview: "", deleted: true });
  const events = await syncAll(alice, id);
  expect(events.map((e) => e.payload.case)).toEqual(["conversationCreated", "messageCreated", "messageEdited", "reactionAdded", "reactionAdded", "messagePinned", "messageDeleted"]);
  for (const text of ["original secret", "edited secret"]) {
    expect(eventsContain(events, text)).toBe(false);
    expect(listed.some((m) => m.text.includes(text))).toBe(false);
  }
}

describe("chat end to end with real access tokens (embedded platform)", () => {
  const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();
  const chatUrl = platform.endpoints.chat!;
  let acme: Awaited<ReturnType<typeof tenantWithUsers>>;
  let other: Awaited<ReturnType<typeof tenantWithUsers>>;

  beforeAll(async () => {
    acme = await tenantWithUsers(platform.endpoints.auth!, adminCredential, ["alice", "bob", "mallory"], ["phone", "laptop"]);
    other = await tenantWithUsers(platform.endpoints.auth!, adminCredential, ["alice"]);
  });

  const as = (user: string, label: string, device = "phone", baseUrl = chatUrl) => createClient(ChatService, transports(baseUrl, bearer(acme.token(user, device)))[label]!);

  for (const label of ["gRPC over HTTP/2", "Connect over HTTP/1.1"]) {
    it(`creates a conversation, sends idempotently, reads history and syncs (${label})`, async () => {
      const alice = as("alice", label);
      const bob = as("bob", label);
      const { conversation } = await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: `walk ${label}` });
      const id = conversation!.id;
      const ack = await alice.sendMessage({ conversationId: id, clientMessageId: "hello-1", text: "hello bob" });
      expect(ack).toMatchObject({ seq: 2n, duplicate: false });
      expect(await alice.sendMessage({ conversationId: id, clientMessageId: "hello-1", text: "hello bob" })).toEqual({ ...ack, duplicate: true });
      expect((await failure(alice.sendMessage({ conversationId: id, clientMessageId: "hello-1", text: "changed" }))).code).toBe(Code.AlreadyExists);
      await bob.sendMessage({ conversationId: id, clientMessageId: "b-1", text: "hi alice" });
      const history = await bob.listMessages({ conversationId: id });
      expect(history.messages.map((m) => [m.senderId, m.text])).toEqual([
        ["bob", "hi alice"],
        ["alice", "hello bob"],
      ]);
      const sync = await bob.sync({ conversationId: id, afterSeq: 1n });
      expect(sync.events.map((e) => [Number(e.seq), e.payload.case])).toEqual([
        [2, "messageCreated"],
        [3, "messageCreated"],
      ]);
      expect(sync).toMatchObject({ hasMore: false, firstAvailableSeq: 1n, headSeq: 3n });
    });
  }

  it("shows unread right after a read from a second device", async () => {
    const alice = as("alice", "gRPC over HTTP/2");
    const { conversation } = await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] });
    const id = conversation!.id;
    for (let i = 0; i < 3; i++) await alice.sendMessage({ conversationId: id, clientMessageId: `u-${i}`, text: `m${i}` });
    const phone = as("bob", "gRPC over HTTP/2", "phone");
    const laptop = as("bob", "Connect over HTTP/1.1", "laptop");
    expect((await phone.getUnreadCounts({ conversationIds: [id] })).readStates[0]?.unreadCount).toBe(3);
    await laptop.markRead({ conversationId: id, seq: 3n });
    expect((await phone.getUnreadCounts({ conversationIds: [id] })).readStates[0]).toMatchObject({ unreadCount: 1, lastReadSeq: 3n });
    // A marker never moves back.
    await phone.markRead({ conversationId: id, seq: 2n });
    expect((await laptop.getConversation({ conversationId: id })).readState).toMatchObject({ lastReadSeq: 3n, unreadCount: 1 });
  });

  it("answers NOT_FOUND to other users and tenants (BOLA), UNAUTHENTICATED without a token", async () => {
    const alice = as("alice", "gRPC over HTTP/2");
    const { conversation } = await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] });
    const id = conversation!.id;
    const ack = await alice.sendMessage({ conversationId: id, clientMessageId: "s-1", text: "secret" });
    const mallory = as("mallory", "gRPC over HTTP/2");
    const otherAlice = createClient(ChatService, transports(chatUrl, bearer(other.token("alice")))["gRPC over HTTP/2"]!);
    for (const probe of [mallory, otherAlice]) {
      expect((await failure(probe.getConversation({ conversationId: id }))).code).toBe(Code.NotFound);
      expect((await failure(probe.getMessage({ conversationId: id, messageId: ack.messageId }))).code).toBe(Code.NotFound);
      expect((await failure(probe.sync({ conversationId: id }))).code).toBe(Code.NotFound);
      expect((await failure(probe.sendMessage({ conversationId: id, clientMessageId: "x", text: "x" }))).code).toBe(Code.NotFound);
      expect((await failure(probe.addMembers({ conversationId: id, userIds: ["mallory"] }))).code).toBe(Code.NotFound);
    }
    const anonymous = createClient(ChatService, transports(chatUrl)["Connect over HTTP/1.1"]!);
    expect((await failure(anonymous.listConversations({}))).code).toBe(Code.Unauthenticated);
    // A removed member loses access at once.
    await alice.removeMember({ conversationId: id, userId: "bob" });
    expect((await failure(as("bob", "gRPC over HTTP/2").getConversation({ conversationId: id }))).code).toBe(Code.NotFound);
  });

  it("refuses bad input clearly and takes the sender from the token only", async () => {
    const alice = as("alice", "Connect over HTTP/1.1");
    const { conversation } = await alice.createConversation({ type: ConversationType.CHANNEL, memberIds: ["bob"] });
    const id = conversation!.id;
    expect((await failure(alice.sendMessage({ conversationId: id, clientMessageId: "e" }))).code).toBe(Code.InvalidArgument);
    expect((await failure(alice.sendMessage({ conversationId: id, clientMessageId: "e", text: "x".repeat(4001) }))).code).toBe(Code.InvalidArgument);
    expect((await failure(alice.getConversation({ conversationId: "0190d2a4-5b6c-7d8e-9f01-23456789abcd" }))).code).toBe(Code.NotFound);
    // Only owners and admins post in a channel, whatever the request claims.
    const bob = createClient(ChatService, transports(chatUrl, { ...bearer(acme.token("bob", "phone")), "x-user-id": "alice" })["gRPC over HTTP/2"]!);
    expect((await failure(bob.sendMessage({ conversationId: id, clientMessageId: "b", text: "as alice?" }))).code).toBe(Code.PermissionDenied);
    await alice.updateMemberRole({ conversationId: id, userId: "bob", role: MemberRole.ADMIN });
    const ack = await bob.sendMessage({ conversationId: id, clientMessageId: "b", text: "as bob" });
    expect((await alice.getMessage({ conversationId: id, messageId: ack.messageId })).message?.senderId).toBe("bob");
  });

  it("keeps one DIRECT conversation per pair, also through the gateway", async () => {
    const viaEdge = createClient(ChatService, transports(platform.endpoints.gateway!, bearer(acme.token("alice", "phone")))["gRPC over HTTP/2"]!);
    const [x, y] = await Promise.all([
      viaEdge.createConversation({ type: ConversationType.DIRECT, memberIds: ["mallory"] }),
      as("mallory", "Connect over HTTP/1.1").createConversation({ type: ConversationType.DIRECT, memberIds: ["alice"] }),
    ]);
    expect(x.conversation!.id).toBe(y.conversation!.id);
    expect([x.created, y.created].sort()).toEqual([false, true]);
    const { conversations } = await viaEdge.listConversations({ type: ConversationType.DIRECT });
    expect(conversations.map((c) => c.conversation!.id)).toContain(x.conversation!.id);
  });
  it("updates, archives, joins, invites and deletes conversations by role; NOT_FOUND to other tenants", async () => {
    const alice = as("alice", "gRPC over HTTP/2");
    const bob = as("bob", "gRPC over HTTP/2");
    const mallory = as("mallory", "gRPC over HTTP/2");
    const stranger = createClient(ChatService, transports(chatUrl, bearer(other.token("alice")))["gRPC over HTTP/2"]!);
    const { conversation } = await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: "before", joinPolicy: JoinPolicy.OPEN });
    const id = conversation!.id;
    const mask = { paths: ["title"] };
    expect((await failure(bob.updateConversation({ conversation: { id, title: "x" }, updateMask: mask }))).code).toBe(Code.PermissionDenied);
    expect((await failure(stranger.updateConversation({ conversation: { id, title: "x" }, updateMask: mask }))).code).toBe(Code.NotFound);
    expect((await failure(stranger.joinConversation({ conversationId: id }))).code).toBe(Code.NotFound);
    expect((await alice.updateConversation({ conversation: { id, title: "after" }, updateMask: mask })).conversation?.title).toBe("after");
    expect((await mallory.joinConversation({ conversationId: id })).member).toMatchObject({ userId: "mallory", role: MemberRole.MEMBER });
    expect((await alice.archiveConversation({ conversationId: id })).conversation?.archived).toBe(true);
    expect((await failure(bob.sendMessage({ conversationId: id, clientMessageId: "late", text: "x" }))).code).toBe(Code.FailedPrecondition);
    expect((await failure(mallory.deleteConversation({ conversationId: id }))).code).toBe(Code.PermissionDenied);
    await alice.deleteConversation({ conversationId: id });
    expect((await failure(bob.getConversation({ conversationId: id }))).code).toBe(Code.NotFound);
    const events = await syncAll(bob, id);
    expect(events.map((e) => e.payload.case)).toEqual(["conversationCreated", "conversationUpdated", "memberJoined", "conversationArchived", "conversationDeleted"]);
    // INVITE_ONLY: a code from an owner lets a user in once; another tenant's user finds nothing.
    const invited = (await alice.createConversation({ type: ConversationType.GROUP, title: "by invite" })).conversation!.id;
    expect((await failure(mallory.joinConversation({ conversationId: invited }))).code).toBe(Code.NotFound);
    const { invite } = await alice.createInvite({ conversationId: invited, maxUses: 1 });
    expect((await failure(stranger.acceptInvite({ code: invite!.code }))).code).toBe(Code.NotFound);
    expect((await mallory.acceptInvite({ code: invite!.code })).member).toMatchObject({ userId: "mallory", role: MemberRole.MEMBER });
    expect((await failure(bob.acceptInvite({ code: invite!.code }))).code).toBe(Code.FailedPrecondition);
    expect((await alice.revokeInvite({ conversationId: invited, inviteId: invite!.id })).invite?.useCount).toBe(1);
  });

  it("edits, reacts, pins and deletes for everyone; the deleted body is gone from every read path", async () => {
    const stranger = createClient(ChatService, transports(chatUrl, bearer(other.token("alice")))["gRPC over HTTP/2"]!);
    await editReactPinDelete(as("alice", "gRPC over HTTP/2"), as("bob", "Connect over HTTP/1.1"), stranger);
  });

  it("limits sends per user with RESOURCE_EXHAUSTED and RetryInfo, and refuses user tokens on ChatInternalService", async () => {
    const t = await tenantWithUsers(platform.endpoints.auth!, adminCredential, ["burst"]);
    const burst = createClient(ChatService, transports(chatUrl, bearer(t.token("burst")))["gRPC over HTTP/2"]!);
    const { conversation } = await burst.createConversation({ type: ConversationType.GROUP });
    const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => burst.sendMessage({ conversationId: conversation!.id, clientMessageId: `b${i}`, text: "x" })));
    const refused = results.flatMap((r) => (r.status === "rejected" ? [ConnectError.from(r.reason)] : []));
    expect(refused.length).toBeGreaterThan(0);
    expect(results.filter((r) => r.status === "fulfilled").length).toBeGreaterThanOrEqual(20);
    expect(refused.every((e) => e.code === Code.ResourceExhausted)).toBe(true);
    const delay = refused[0]!.findDetails(RetryInfoSchema)[0]?.retryDelay;
    expect(Number(delay?.seconds ?? 0n) * 1000 + (delay?.nanos ?? 0) / 1e6).toBeGreaterThan(0);
    const internal = createClient(ChatInternalService, transports(chatUrl, bearer(t.token("burst")))["gRPC over HTTP/2"]!);
    const err = await failure(internal.checkAccess({ tenantId: t.tenantId, userId: "burst", conversationIds: [conversation!.id] }));
    expect(err.code).toBe(Code.PermissionDenied);
  });
});

describe.skipIf(!cluster)("chat in cluster mode: two chat instances on the MongoDB-protocol server", () => {
  it("keeps seq dense and ordered with concurrent senders through both instances; every ack present exactly once", async () => {
    const c = cluster!;
    const authUrl = c.instances.find((i) => i.service === "auth")!.url;
    const chats = c.instances.filter((i) => i.service === "chat").map((i) => i.url);
    expect(chats).toHaveLength(2);
    const users = ["u1", "u2", "u3"];
    const t = await tenantWithUsers(authUrl, c.adminToken, users);
    const client = (user: string, i: number) => createClient(ChatService, createGrpcTransport({ baseUrl: chats[i % 2]!, interceptors: [headers(bearer(t.token(user)))] }));
    const { conversation } = await client("u1", 0).createConversation({ type: ConversationType.GROUP, memberIds: ["u2", "u3"] });
    const id = conversation!.id;
    const acks: SendMessageResponse[] = [];
    await Promise.all(
      users.map(async (user) => {
        for (let i = 0; i < 10; i += 2) {
          const pair = await Promise.all([0, 1].map((k) => client(user, i + k).sendMessage({ conversationId: id, clientMessageId: `${user}-${i + k}`, text: `${user} ${i + k}` })));
          acks.push(...pair);
        }
      }),
    );
    // A retry through the other instance returns the original ack.
    expect(await client("u1", 1).sendMessage({ conversationId: id, clientMessageId: "u1-0", text: "u1 0" })).toMatchObject({ duplicate: true });
    const events = await syncAll(client("u2", 1), id);
    expect(events.map((e) => Number(e.seq))).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
    const messages = events.flatMap((e) => (e.payload.case === "messageCreated" ? [e.payload.value.message!] : []));
    for (const ack of acks) expect(messages.filter((m) => m.id === ack.messageId && m.seq === ack.seq)).toHaveLength(1);
    expect(new Set(messages.map((m) => m.clientMessageId)).size).toBe(30);
  }, 60_000);

  it("edits, reacts, pins and deletes across both instances; the deleted body is gone from every read path", async () => {
    const c = cluster!;
    const authUrl = c.instances.find((i) => i.service === "auth")!.url;
    const chats = c.instances.filter((i) => i.service === "chat").map((i) => i.url);
    const t = await tenantWithUsers(authUrl, c.adminToken, ["alice", "bob"]);
    const o = await tenantWithUsers(authUrl, c.adminToken, ["alice"]);
    const client = (token: string, i: number) => createClient(ChatService, createGrpcTransport({ baseUrl: chats[i % 2]!, interceptors: [headers(bearer(token))] }));
    await editReactPinDelete(client(t.token("alice"), 0), client(t.token("bob"), 1), client(o.token("alice"), 0));
  }, 60_000);
});
