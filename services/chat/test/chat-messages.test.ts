import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { MessageOrder } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType, JoinPolicy } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { MemberRole } from "@caas/gen/caas/chat/v1/member_pb.js";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { messageIdFor, seqOfMessageId } from "../src/domain/message-ids.js";
import { expectCode } from "./support/expect.js";
import { sqliteWorld, type Tier1Client, type World } from "./support/harness.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-msg-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("ChatService messages, history, Sync and read state (tier 1: the class)", () => {
  let w: World;
  let alice: Tier1Client;
  let bob: Tier1Client;
  let carol: Tier1Client;
  let conv: string;

  beforeEach(async () => {
    w = await sqliteWorld(dir);
    [alice, bob, carol] = ["alice", "bob", "carol"].map((u) => w.as(u)) as [Tier1Client, Tier1Client, Tier1Client];
    conv = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
  });
  afterEach(() => w.close());

  const send = (client: Tier1Client, text: string, o: Record<string, unknown> = {}) => client.sendMessage({ conversationId: conv, clientMessageId: `c-${text}`, text, ...o });

  it("acknowledges a send after the commit with the message id, seq and server time; the sender is the caller", async () => {
    w.clock.advance(1234);
    const ack = await send(bob, "hello", { mentionedUserIds: ["alice", "carol"], custom: { k: 1 } });
    expect(ack).toMatchObject({ seq: 2n, duplicate: false });
    expect(timestampMs(ack.createTime!)).toBe(w.clock.nowMs());
    expect(seqOfMessageId(ack.messageId)).toBe(2);
    const { message } = await alice.getMessage({ conversationId: conv, messageId: ack.messageId });
    expect(message).toMatchObject({ id: ack.messageId, seq: 2n, senderId: "bob", clientMessageId: "c-hello", text: "hello", custom: { k: 1 } });
    // Mentions of non-members are dropped.
    expect(message?.mentionedUserIds).toEqual(["alice"]);
    const { events } = await alice.sync({ conversationId: conv, afterSeq: 1n });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ seq: 2n, actorId: "bob" });
    expect(w.instance.commits.map((e) => e.seq)).toEqual([1, 2]);
  });

  it("makes sends idempotent per (conversation, sender, client_message_id)", async () => {
    const first = await send(bob, "hi", { custom: { a: 1, b: [1, 2] } });
    w.clock.advance(50);
    const retry = await send(bob, "hi", { custom: { b: [1, 2], a: 1 } });
    expect(retry).toEqual({ ...first, duplicate: true });
    await expectCode(bob.sendMessage({ conversationId: conv, clientMessageId: "c-hi", text: "changed" }), Code.AlreadyExists);
    await expectCode(bob.sendMessage({ conversationId: conv, clientMessageId: "c-hi", text: "hi", custom: { a: 2, b: [1, 2] } }), Code.AlreadyExists);
    // The same key from another sender or in another conversation is another message.
    const other = await alice.sendMessage({ conversationId: conv, clientMessageId: "c-hi", text: "hi" });
    expect(other.seq).toBe(3n);
    const second = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
    expect((await bob.sendMessage({ conversationId: second, clientMessageId: "c-hi", text: "hi" })).duplicate).toBe(false);
    expect((await alice.sync({ conversationId: conv })).headSeq).toBe(3n);
  });

  it("lets only owners and admins post in a CHANNEL", async () => {
    const channel = (await alice.createConversation({ type: ConversationType.CHANNEL, memberIds: ["bob", "carol"] })).conversation!.id;
    await expectCode(bob.sendMessage({ conversationId: channel, clientMessageId: "b1", text: "x" }), Code.PermissionDenied);
    await alice.sendMessage({ conversationId: channel, clientMessageId: "a1", text: "news" });
    await alice.updateMemberRole({ conversationId: channel, userId: "bob", role: MemberRole.ADMIN });
    expect((await bob.sendMessage({ conversationId: channel, clientMessageId: "b1", text: "x" })).seq).toBe(4n);
    expect((await carol.listMessages({ conversationId: channel })).messages.map((m) => m.text)).toEqual(["x", "news"]);
  });

  it("answers NOT_FOUND to non-members, other tenants and unknown conversations (BOLA)", async () => {
    const ack = await send(alice, "secret");
    const probes = [carol, w.as("bob", "tenantbee"), w.as("alice", "tenantbee")];
    for (const p of probes) {
      await expectCode(p.sendMessage({ conversationId: conv, clientMessageId: "x", text: "x" }), Code.NotFound);
      await expectCode(p.getMessage({ conversationId: conv, messageId: ack.messageId }), Code.NotFound);
      await expectCode(p.listMessages({ conversationId: conv }), Code.NotFound);
      await expectCode(p.sync({ conversationId: conv }), Code.NotFound);
      await expectCode(p.markRead({ conversationId: conv, seq: 1n }), Code.NotFound);
      await expectCode(p.getUnreadCounts({ conversationIds: [conv] }), Code.NotFound);
      await expectCode(p.addMembers({ conversationId: conv, userIds: ["x"] }), Code.NotFound);
    }
    // A message id of another conversation the caller belongs to is not found here either.
    const mine = (await carol.createConversation({ type: ConversationType.GROUP, memberIds: ["alice"] })).conversation!.id;
    const elsewhere = await carol.sendMessage({ conversationId: mine, clientMessageId: "c1", text: "other" });
    await expectCode(alice.getMessage({ conversationId: conv, messageId: elsewhere.messageId }), Code.NotFound);
    await expectCode(carol.getMessage({ conversationId: mine, messageId: ack.messageId }), Code.NotFound);
    // An id naming a real seq but not the message stored there is not found.
    await expectCode(alice.getMessage({ conversationId: conv, messageId: messageIdFor(2, 0) }), Code.NotFound);
    await expectCode(alice.getMessage({ conversationId: conv, messageId: "0190d2a4-5b6c-7d8e-9f01-23456789abcd" }), Code.NotFound);
  });

  it("refuses bad input with clear codes", async () => {
    await expectCode(bob.sendMessage({ conversationId: conv, clientMessageId: "e1" }), Code.InvalidArgument);
    await expectCode(bob.sendMessage({ conversationId: conv, clientMessageId: "e1", text: "x".repeat(4001) }), Code.InvalidArgument);
    expect((await bob.sendMessage({ conversationId: conv, clientMessageId: "e2", text: "😀".repeat(4000) })).seq).toBe(2n);
    await expectCode(bob.sendMessage({ conversationId: conv, clientMessageId: "", text: "x" }), Code.InvalidArgument);
    await expectCode(bob.sendMessage({ conversationId: conv, clientMessageId: "has space", text: "x" }), Code.InvalidArgument);
    await expectCode(bob.sendMessage({ conversationId: conv, clientMessageId: "x".repeat(65), text: "x" }), Code.InvalidArgument);
    await expectCode(bob.sendMessage({ conversationId: "nope", clientMessageId: "e3", text: "x" }), Code.InvalidArgument);
    await expectCode(bob.sendMessage({ conversationId: conv, clientMessageId: "e3", custom: { big: "y".repeat(9000) } }), Code.InvalidArgument);
    await expectCode(bob.sendMessage({ conversationId: conv, clientMessageId: "e3", text: "x", mentionedUserIds: ["a", "a"] }), Code.InvalidArgument);
    // This world has no media service: attachments are UNAVAILABLE (chat-attachments.test.ts wires the real one).
    await expectCode(bob.sendMessage({ conversationId: conv, clientMessageId: "e3", attachments: [{ mediaId: "0190d2a4-5b6c-7d8e-9f01-23456789abcd" }] }), Code.Unavailable);
    expect((await alice.sync({ conversationId: conv })).headSeq).toBe(2n);
  });

  it("checks reply and thread targets in this conversation", async () => {
    const root = await send(alice, "root");
    const reply = await send(bob, "reply", { threadParentId: root.messageId, replyToMessageId: root.messageId });
    const { message } = await alice.getMessage({ conversationId: conv, messageId: reply.messageId });
    expect(message).toMatchObject({ threadParentId: root.messageId, replyToMessageId: root.messageId });
    await expectCode(send(bob, "nested", { threadParentId: reply.messageId }), Code.InvalidArgument);
    await expectCode(send(bob, "ghost", { replyToMessageId: messageIdFor(99, 0) }), Code.NotFound);
    const other = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
    const there = await alice.sendMessage({ conversationId: other, clientMessageId: "o", text: "o" });
    await expectCode(send(bob, "cross", { replyToMessageId: there.messageId }), Code.NotFound);
    // Thread replies do not become the conversation's last message.
    expect((await alice.getConversation({ conversationId: conv })).conversation?.lastMessage?.messageId).toBe(root.messageId);
  });

  it("pages through history newest or oldest first, in a seq range, with tokens bound to the query", async () => {
    const acks = [];
    for (let i = 1; i <= 7; i++) acks.push(await send(i % 2 ? alice : bob, `m${i}`));
    await alice.addMembers({ conversationId: conv, userIds: ["carol"] });
    const reply = await send(bob, "r", { threadParentId: acks[0]!.messageId });
    const texts = (r: { messages: { text: string }[] }) => r.messages.map((m) => m.text);
    const p1 = await carol.listMessages({ conversationId: conv, pageSize: 3 });
    expect(texts(p1)).toEqual(["r", "m7", "m6"]);
    const p2 = await carol.listMessages({ conversationId: conv, pageSize: 3, pageToken: p1.nextPageToken });
    expect(texts(p2)).toEqual(["m5", "m4", "m3"]);
    const p3 = await carol.listMessages({ conversationId: conv, pageSize: 3, pageToken: p2.nextPageToken });
    expect(texts(p3)).toEqual(["m2", "m1"]);
    expect(p3.nextPageToken).toBe("");
    const up = await carol.listMessages({ conversationId: conv, order: MessageOrder.OLDEST_FIRST, pageSize: 4, excludeThreadReplies: true });
    expect(texts(up)).toEqual(["m1", "m2", "m3", "m4"]);
    const up2 = await carol.listMessages({ conversationId: conv, order: MessageOrder.OLDEST_FIRST, pageSize: 4, excludeThreadReplies: true, pageToken: up.nextPageToken });
    expect(texts(up2)).toEqual(["m5", "m6", "m7"]);
    expect(up2.nextPageToken).toBe("");
    const range = await carol.listMessages({ conversationId: conv, afterSeq: 3n, beforeSeq: 6n });
    expect(range.messages.map((m) => Number(m.seq))).toEqual([5, 4]);
    await expectCode(carol.listMessages({ conversationId: conv, pageSize: 3, pageToken: p1.nextPageToken, order: MessageOrder.OLDEST_FIRST }), Code.InvalidArgument);
    await expectCode(carol.listMessages({ conversationId: conv, afterSeq: 5n, beforeSeq: 5n }), Code.InvalidArgument);
    expect(reply.seq).toBe(10n);
  });

  it("syncs events after a seq with has_more, first_available_seq and head_seq", async () => {
    for (let i = 0; i < 5; i++) await send(alice, `s${i}`);
    const a = await bob.sync({ conversationId: conv, afterSeq: 0n, limit: 4 });
    expect(a.events.map((e) => Number(e.seq))).toEqual([1, 2, 3, 4]);
    expect(a).toMatchObject({ hasMore: true, firstAvailableSeq: 1n, headSeq: 6n });
    const b = await bob.sync({ conversationId: conv, afterSeq: 4n, limit: 4 });
    expect(b.events.map((e) => Number(e.seq))).toEqual([5, 6]);
    expect(b.hasMore).toBe(false);
    expect((await bob.sync({ conversationId: conv, afterSeq: 99n })).events).toEqual([]);
    // OPEN conversations sync for non-members too.
    const open = (await alice.createConversation({ type: ConversationType.GROUP, joinPolicy: JoinPolicy.OPEN })).conversation!.id;
    expect((await carol.sync({ conversationId: open })).headSeq).toBe(1n);
    await expectCode(carol.sendMessage({ conversationId: open, clientMessageId: "x", text: "x" }), Code.NotFound);
  });

  it("counts unread as countable messages after the read position, which only moves forward", async () => {
    await send(alice, "one");
    await send(alice, "two");
    await alice.addMembers({ conversationId: conv, userIds: ["carol"] });
    await send(alice, "three");
    expect((await bob.getConversation({ conversationId: conv })).readState).toMatchObject({ lastReadSeq: 1n, unreadCount: 3 });
    expect((await carol.getConversation({ conversationId: conv })).readState).toMatchObject({ lastReadSeq: 4n, unreadCount: 1 });
    expect((await alice.getConversation({ conversationId: conv })).readState).toMatchObject({ lastReadSeq: 5n, unreadCount: 0 });
    expect((await bob.markRead({ conversationId: conv, seq: 3n })).readState).toMatchObject({ lastReadSeq: 3n, unreadCount: 1 });
    expect((await bob.markRead({ conversationId: conv, seq: 2n })).readState).toMatchObject({ lastReadSeq: 3n, unreadCount: 1 });
    expect((await bob.markRead({ conversationId: conv, seq: 999n })).readState).toMatchObject({ lastReadSeq: 5n, unreadCount: 0 });
    await send(alice, "four");
    // Sending reads everything up to one's own message.
    await send(bob, "mine");
    expect((await bob.getConversation({ conversationId: conv })).readState).toMatchObject({ lastReadSeq: 7n, unreadCount: 0 });
    await expectCode(bob.markRead({ conversationId: conv, seq: 0n }), Code.InvalidArgument);
  });

  it("reports unread counts per conversation and in total", async () => {
    const second = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
    const quiet = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
    await send(alice, "a");
    await send(alice, "b");
    w.clock.advance(10);
    await alice.sendMessage({ conversationId: second, clientMessageId: "x", text: "x" });
    const all = await bob.getUnreadCounts({});
    expect(all).toMatchObject({ totalUnreadCount: 3, unreadConversationCount: 2, truncated: false, totalMentionCount: 0 });
    expect(all.readStates.map((r) => [r.conversationId, r.unreadCount])).toEqual([
      [second, 1],
      [conv, 2],
    ]);
    const named = await bob.getUnreadCounts({ conversationIds: [quiet, conv] });
    expect(named.readStates.map((r) => [r.conversationId, r.unreadCount])).toEqual([
      [quiet, 0],
      [conv, 2],
    ]);
    expect(named.totalUnreadCount).toBe(3);
    await expectCode(carol.getUnreadCounts({ conversationIds: [conv] }), Code.NotFound);
    expect(await carol.getUnreadCounts({})).toMatchObject({ readStates: [], totalUnreadCount: 0 });
  });
});
