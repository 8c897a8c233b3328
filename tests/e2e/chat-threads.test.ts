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

/**
 * Replies in a thread through real clients: the replies listed oldest first and paged, the
 * root's summary in history and GetMessage, and NOT_FOUND for non-members and other tenants.
 */
async function repliesInAThread(alice: Client<typeof ChatService>, bob: Client<typeof ChatService>, mallory: Client<typeof ChatService>, otherTenant: Client<typeof ChatService>) {
  const id = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: "threads" })).conversation!.id;
  const root = (await alice.sendMessage({ conversationId: id, clientMessageId: "root", text: "shall we ship?" })).messageId;
  const r1 = await bob.sendMessage({ conversationId: id, clientMessageId: "r1", text: "yes", threadParentId: root });
  await alice.sendMessage({ conversationId: id, clientMessageId: "top", text: "meanwhile, top level" });
  const r2 = await alice.sendMessage({ conversationId: id, clientMessageId: "r2", text: "friday then", threadParentId: root });
  const r3 = await bob.sendMessage({ conversationId: id, clientMessageId: "r3", text: "ok", threadParentId: root });

  const page1 = await bob.listThreadReplies({ conversationId: id, threadParentId: root, pageSize: 2 });
  expect(page1.messages.map((m) => [m.id, m.text])).toEqual([
    [r1.messageId, "yes"],
    [r2.messageId, "friday then"],
  ]);
  const page2 = await bob.listThreadReplies({ conversationId: id, threadParentId: root, pageSize: 2, pageToken: page1.nextPageToken });
  expect(page2.messages.map((m) => m.id)).toEqual([r3.messageId]);
  expect(page2.nextPageToken).toBe("");

  const history = await bob.listMessages({ conversationId: id, excludeThreadReplies: true });
  expect(history.messages.map((m) => m.text)).toEqual(["meanwhile, top level", "shall we ship?"]);
  const summary = history.messages.find((m) => m.id === root)!.thread;
  expect([summary?.replyCount, summary?.lastReplySeq, summary?.participantIds]).toEqual([3, r3.seq, ["bob", "alice"]]);
  expect((await alice.getMessage({ conversationId: id, messageId: root })).message?.thread?.replyCount).toBe(3);

  expect(await code(mallory.listThreadReplies({ conversationId: id, threadParentId: root }))).toBe(Code.NotFound);
  expect(await code(otherTenant.listThreadReplies({ conversationId: id, threadParentId: root }))).toBe(Code.NotFound);
  expect(await code(bob.listThreadReplies({ conversationId: id, threadParentId: "not-a-uuid" }))).toBe(Code.InvalidArgument);
}

describe("thread replies end to end (embedded platform)", () => {
  it("lists replies in a thread and shows the root's summary in history, over gRPC and Connect", async () => {
    const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();
    const acme = await tenantWithUsers(platform.endpoints.auth!, adminCredential, ["alice", "bob", "mallory"], "threads-e2e").then((t) => t.token);
    const other = await tenantWithUsers(platform.endpoints.auth!, adminCredential, ["alice"], "threads-e2e").then((t) => t.token);
    const chatUrl = platform.endpoints.chat!;
    const grpc = (token: string) => createClient(ChatService, createGrpcTransport({ baseUrl: chatUrl, interceptors: [bearer(token)] }));
    const connect = (token: string) => createClient(ChatService, createConnectTransport({ baseUrl: chatUrl, httpVersion: "1.1", interceptors: [bearer(token)] }));
    await repliesInAThread(grpc(acme("alice")), connect(acme("bob")), grpc(acme("mallory")), connect(other("alice")));
  });
});

describe.skipIf(!cluster)("thread replies in cluster mode: two chat instances on the MongoDB-protocol server", () => {
  it("lists replies written through both instances and shows the root's summary", async () => {
    const c = cluster!;
    const authUrl = c.instances.find((i) => i.service === "auth")!.url;
    const chats = c.instances.filter((i) => i.service === "chat").map((i) => i.url);
    const acme = await tenantWithUsers(authUrl, c.adminToken, ["alice", "bob", "mallory"], "threads-e2e").then((t) => t.token);
    const other = await tenantWithUsers(authUrl, c.adminToken, ["alice"], "threads-e2e").then((t) => t.token);
    const client = (token: string, i: number) => createClient(ChatService, createGrpcTransport({ baseUrl: chats[i % 2]!, interceptors: [bearer(token)] }));
    await repliesInAThread(client(acme("alice"), 0), client(acme("bob"), 1), client(acme("mallory"), 0), client(other("alice"), 1));
  }, 60_000);
});
