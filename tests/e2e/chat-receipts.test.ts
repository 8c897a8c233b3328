import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Code, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, inject, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { bearer, codeOf as code, tenantWithUsers } from "../support/tenants.js";

const platform = inject("embedded");
const cluster = inject("cluster");

type Chat = Client<typeof ChatService>;

/**
 * Mentions, markers, read-by and forwarding through real clients: bob's mention count goes up
 * when alice mentions him and down when he marks read; alice sees bob in the message's read-by;
 * alice forwards the message to carol; outsiders and other tenants get NOT_FOUND.
 */
async function receiptsWalkThrough(alice: Chat, bob: Chat, carol: Chat, mallory: Chat, otherTenant: Chat) {
  const group = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: "receipts" })).conversation!.id;
  const sent = await alice.sendMessage({ conversationId: group, clientMessageId: "m1", text: "@bob lunch?", mentionedUserIds: ["bob", "mallory"] });
  expect((await bob.getMessage({ conversationId: group, messageId: sent.messageId })).message?.mentionedUserIds).toEqual(["bob"]);

  const before = await bob.getUnreadCounts({ conversationIds: [group] });
  expect([before.readStates[0]?.unreadCount, before.readStates[0]?.mentionCount, before.totalMentionCount]).toEqual([1, 1, 1]);
  const delivered = await bob.markDelivered({ conversationId: group, seq: sent.seq });
  expect(delivered.readState?.lastDeliveredSeq).toBe(sent.seq);
  expect((await alice.listReadBy({ conversationId: group, messageId: sent.messageId })).receipts).toEqual([]);

  const read = await bob.markRead({ conversationId: group, seq: sent.seq });
  expect([read.readState?.lastReadSeq, read.readState?.unreadCount, read.readState?.mentionCount]).toEqual([sent.seq, 0, 0]);
  expect((await bob.getUnreadCounts({ conversationIds: [group] })).totalMentionCount).toBe(0);
  // Never back.
  expect((await bob.markRead({ conversationId: group, seq: 1n })).readState?.lastReadSeq).toBe(sent.seq);
  const readBy = await alice.listReadBy({ conversationId: group, messageId: sent.messageId });
  expect(readBy.receipts.map((r) => [r.userId, r.lastReadSeq, r.lastDeliveredSeq])).toEqual([["bob", sent.seq, sent.seq]]);

  const dm = (await alice.createConversation({ type: ConversationType.DIRECT, memberIds: ["carol"] })).conversation!.id;
  const fwd = await alice.forwardMessage({ conversationId: group, messageId: sent.messageId, targetConversationId: dm, clientMessageId: "f1" });
  const copy = (await carol.getMessage({ conversationId: dm, messageId: fwd.messageId })).message!;
  expect([copy.senderId, copy.text, copy.forwardedFrom?.conversationId, copy.forwardedFrom?.messageId, copy.forwardedFrom?.senderId]).toEqual(["alice", "@bob lunch?", group, sent.messageId, "alice"]);
  expect((await alice.forwardMessage({ conversationId: group, messageId: sent.messageId, targetConversationId: dm, clientMessageId: "f1" })).duplicate).toBe(true);
  expect(await code(carol.forwardMessage({ conversationId: group, messageId: sent.messageId, targetConversationId: dm, clientMessageId: "f2" }))).toBe(Code.NotFound);

  for (const outsider of [mallory, otherTenant]) {
    expect(await code(outsider.listReadBy({ conversationId: group, messageId: sent.messageId }))).toBe(Code.NotFound);
    expect(await code(outsider.markDelivered({ conversationId: group, seq: 1n }))).toBe(Code.NotFound);
    expect(await code(outsider.markRead({ conversationId: group, seq: 1n }))).toBe(Code.NotFound);
  }
  expect(await code(bob.markDelivered({ conversationId: group, seq: 0n }))).toBe(Code.InvalidArgument);
  const channel = (await alice.createConversation({ type: ConversationType.CHANNEL, memberIds: ["bob"] })).conversation!.id;
  const post = await alice.sendMessage({ conversationId: channel, clientMessageId: "c1", text: "news" });
  expect(await code(bob.listReadBy({ conversationId: channel, messageId: post.messageId }))).toBe(Code.FailedPrecondition);
}

describe("mentions, receipts and forwards end to end (embedded platform, through the gateway)", () => {
  it("counts mentions, moves markers, lists read-by and forwards, over gRPC and Connect", async () => {
    const gateway = platform.endpoints.gateway!;
    const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();
    const acme = await tenantWithUsers(gateway, adminCredential, ["alice", "bob", "carol", "mallory"], "receipts-e2e").then((t) => t.token);
    const other = await tenantWithUsers(gateway, adminCredential, ["bob"], "receipts-e2e").then((t) => t.token);
    const grpc = (token: string) => createClient(ChatService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(token)] }));
    const connect = (token: string) => createClient(ChatService, createConnectTransport({ baseUrl: gateway, httpVersion: "1.1", interceptors: [bearer(token)] }));
    await receiptsWalkThrough(grpc(acme("alice")), connect(acme("bob")), grpc(acme("carol")), connect(acme("mallory")), grpc(other("bob")));
  });
});

describe.skipIf(!cluster)("mentions, receipts and forwards in cluster mode (through the gateway, two chat instances on MongoDB)", () => {
  it("counts mentions, moves markers, lists read-by and forwards", async () => {
    const c = cluster!;
    const gateway = c.instances.find((i) => i.service === "gateway")!.url;
    const acme = await tenantWithUsers(gateway, c.adminToken, ["alice", "bob", "carol", "mallory"], "receipts-e2e").then((t) => t.token);
    const other = await tenantWithUsers(gateway, c.adminToken, ["bob"], "receipts-e2e").then((t) => t.token);
    const client = (token: string) => createClient(ChatService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(token)] }));
    await receiptsWalkThrough(client(acme("alice")), client(acme("bob")), client(acme("carol")), client(acme("mallory")), client(other("bob")));
  }, 60_000);
});
