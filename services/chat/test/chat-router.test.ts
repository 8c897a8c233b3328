import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient, type ConnectRouter } from "@connectrpc/connect";
import { ViolationsSchema } from "@caas/gen/buf/validate/validate_pb.js";
import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType, JoinPolicy } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { BadRequestSchema, RetryInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { registerChatRoutes } from "../src/routes.js";
import { ChatServiceImpl } from "../src/chat-service.js";
import { sqliteWorld, type World } from "./support/harness.js";
import { chatClientAs, routerTransport } from "./support/router.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-router-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (!err) expect.fail("the call succeeded but should have failed");
  return err;
}

describe("ChatService over an in-memory router (tier 2: routes, validation, error mapping)", () => {
  let w: World;
  let register: (router: ConnectRouter) => void;
  const as = (user?: string, tenant?: string, opts = {}) => chatClientAs(register, user === undefined ? undefined : `${tenant ?? w.tenantId}/${user}`, opts);

  beforeEach(async () => {
    w = await sqliteWorld(dir);
    register = (router) => registerChatRoutes(router, w.instance.impl, w.instance.internal);
  });
  afterEach(() => w.close());

  it("runs a conversation end to end through the routes", async () => {
    const alice = as("alice");
    const bob = as("bob");
    const { conversation } = await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: "t" });
    const ack = await bob.sendMessage({ conversationId: conversation!.id, clientMessageId: "k1", text: "hi" });
    expect(ack.seq).toBe(2n);
    const sync = await alice.sync({ conversationId: conversation!.id });
    expect(sync.events.map((e) => e.payload.case)).toEqual(["conversationCreated", "messageCreated"]);
    expect((await alice.getUnreadCounts({})).totalUnreadCount).toBe(1);
  });

  it("validates UpdateConversation's mask against the proto and runs the conversation settings, invite and membership RPCs through the routes", async () => {
    const alice = as("alice");
    const { conversation } = await alice.createConversation({ type: ConversationType.GROUP, joinPolicy: JoinPolicy.OPEN });
    const id = conversation!.id;
    const bad = await failure(alice.updateConversation({ conversation: { id, title: "x" }, updateMask: { paths: ["created_by"] } }));
    expect(bad.code).toBe(Code.InvalidArgument);
    const updated = await alice.updateConversation({ conversation: { id, title: "new" }, updateMask: { paths: ["title"] } });
    expect(updated.conversation?.title).toBe("new");
    expect((await as("bob").joinConversation({ conversationId: id })).member?.userId).toBe("bob");
    expect((await alice.archiveConversation({ conversationId: id })).conversation?.archived).toBe(true);
    await alice.deleteConversation({ conversationId: id });
    expect((await failure(as("bob").getConversation({ conversationId: id }))).code).toBe(Code.NotFound);
  });

  it("limits sends per user: RESOURCE_EXHAUSTED with the retry delay in RetryInfo, per user and per tenant", async () => {
    await w.close();
    w = await sqliteWorld(dir, { sendRate: { capacity: 2, refillPerSec: 1 } });
    const alice = as("alice");
    const { conversation } = await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] });
    const id = conversation!.id;
    await alice.sendMessage({ conversationId: id, clientMessageId: "r1", text: "1" });
    await alice.sendMessage({ conversationId: id, clientMessageId: "r2", text: "2" });
    const err = await failure(alice.sendMessage({ conversationId: id, clientMessageId: "r3", text: "3" }));
    expect(err.code).toBe(Code.ResourceExhausted);
    const retry = err.findDetails(RetryInfoSchema)[0];
    expect(Number(retry?.retryDelay?.seconds ?? 0n) * 1000 + (retry?.retryDelay?.nanos ?? 0) / 1e6).toBe(1000);
    // Other users, and the same user id in another tenant, have buckets of their own.
    await as("bob").sendMessage({ conversationId: id, clientMessageId: "b1", text: "b" });
    expect((await failure(as("alice", "othertenant").sendMessage({ conversationId: id, clientMessageId: "x", text: "x" }))).code).toBe(Code.NotFound);
    w.clock.advance(1000);
    expect((await alice.sendMessage({ conversationId: id, clientMessageId: "r3", text: "3" })).seq).toBe(5n);
  });

  it("answers UNAUTHENTICATED without a credential", async () => {
    const err = await failure(as(undefined).listConversations({}));
    expect(err.code).toBe(Code.Unauthenticated);
  });

  it("validates requests against the protos before the handler (field violations)", async () => {
    const err = await failure(as("alice").sendMessage({ conversationId: "nope", clientMessageId: "", text: "x".repeat(4001) }));
    expect(err.code).toBe(Code.InvalidArgument);
    const fields = err.findDetails(ViolationsSchema).flatMap((v) => v.violations.map((x) => x.field?.elements.map((e) => e.fieldName).join(".")));
    expect(fields).toEqual(expect.arrayContaining(["conversation_id", "client_message_id", "text"]));
    const empty = await failure(as("alice").sendMessage({ conversationId: "0190d2a4-5b6c-7d8e-9f01-23456789abcd", clientMessageId: "k" }));
    expect(empty.code).toBe(Code.InvalidArgument);
  });

  it("maps domain errors centrally, with field details for semantic input errors", async () => {
    const alice = as("alice");
    const { conversation } = await alice.createConversation({ type: ConversationType.GROUP });
    const id = conversation!.id;
    await alice.sendMessage({ conversationId: id, clientMessageId: "k", text: "one" });
    expect((await failure(alice.sendMessage({ conversationId: id, clientMessageId: "k", text: "two" }))).code).toBe(Code.AlreadyExists);
    expect((await failure(as("mallory").getConversation({ conversationId: id }))).code).toBe(Code.NotFound);
    expect((await failure(as("alice", "othertenant").getConversation({ conversationId: id }))).code).toBe(Code.NotFound);
    const direct = await failure(alice.createConversation({ type: ConversationType.DIRECT, memberIds: ["alice"] }));
    expect(direct.code).toBe(Code.InvalidArgument);
    const custom = await failure(alice.sendMessage({ conversationId: id, clientMessageId: "big", custom: { b: "x".repeat(9000) } }));
    expect(custom.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toEqual(["custom"]);
  });

  it("takes the sender from the credential only: headers claiming another user change nothing", async () => {
    const alice = as("alice");
    const { conversation } = await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] });
    const forged = as("bob", undefined, { headers: { "x-user-id": "alice", "x-caas-user": "alice", "x-tenant-id": "othertenant" } });
    const ack = await forged.sendMessage({ conversationId: conversation!.id, clientMessageId: "f1", text: "who am i" });
    const { message } = await alice.getMessage({ conversationId: conversation!.id, messageId: ack.messageId });
    expect(message?.senderId).toBe("bob");
  });

  it("refuses a request larger than the read limit", async () => {
    const small = chatClientAs(register, `${w.tenantId}/alice`, { readMaxBytes: 1024 });
    const err = await failure(small.sendMessage({ conversationId: "0190d2a4-5b6c-7d8e-9f01-23456789abcd", clientMessageId: "k", text: "x".repeat(2000) }));
    expect(err.code).toBe(Code.ResourceExhausted);
  });

  it("runs edit, reactions, pins and delete through the routes, with the contract's validation and error codes", async () => {
    const alice = as("alice");
    const bob = as("bob");
    const { conversation } = await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] });
    const conversationId = conversation!.id;
    const { messageId } = await bob.sendMessage({ conversationId, clientMessageId: "k1", text: "hi" });
    const ids = { conversationId, messageId };
    expect((await bob.editMessage({ ...ids, text: "hi!" })).message?.text).toBe("hi!");
    expect((await failure(alice.editMessage({ ...ids, text: "x" }))).code).toBe(Code.PermissionDenied);
    expect((await failure(bob.addReaction({ ...ids, reaction: "x".repeat(33) }))).code).toBe(Code.InvalidArgument);
    expect((await failure(bob.addReaction({ conversationId, messageId: "nope", reaction: "x" }))).code).toBe(Code.InvalidArgument);
    await bob.addReaction({ ...ids, reaction: "👍" });
    expect((await failure(bob.pinMessage(ids))).code).toBe(Code.PermissionDenied);
    await alice.pinMessage(ids);
    expect((await alice.listPins({ conversationId })).pins).toHaveLength(1);
    expect((await failure(as("mallory").deleteMessage(ids))).code).toBe(Code.NotFound);
    expect((await failure(as("bob", "tenantbee").listEditHistory(ids))).code).toBe(Code.NotFound);
    await alice.deleteMessage(ids);
    expect((await failure(bob.editMessage({ ...ids, text: "late" }))).code).toBe(Code.FailedPrecondition);
    const sync = await bob.sync({ conversationId });
    expect(sync.events.map((e) => e.payload.case)).toEqual(["conversationCreated", "messageCreated", "messageEdited", "reactionAdded", "messagePinned", "messageDeleted"]);
  });

  it("implements every public ChatService RPC (none falls back to UNIMPLEMENTED)", () => {
    const proto = ChatServiceImpl.prototype as unknown as Record<string, unknown>;
    expect(ChatService.methods.filter((m) => typeof proto[m.localName] !== "function").map((m) => m.name)).toEqual([]);
  });

  it("routes every RPC of both services to the implementation (none answers UNIMPLEMENTED)", async () => {
    const id = "0190d2a4-5b6c-7d8e-9f01-23456789abcd";
    // ListThreadReplies is built (ADR 0021): an unknown conversation is NOT_FOUND, not UNIMPLEMENTED.
    expect((await failure(as("alice").listThreadReplies({ conversationId: id, threadParentId: id }))).code).toBe(Code.NotFound);
    const internal = createClient(ChatInternalService, routerTransport(register, { headers: { "x-test-principal": "svc:search" } }));
    // ScanConversations is built (chat-internal-scan.test.ts): a tenant with no conversations scans empty.
    expect(await internal.scanConversations({ tenantId: id })).toMatchObject({ conversations: [], nextPageToken: "" });
  });
});
