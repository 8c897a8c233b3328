import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { ConversationType, JoinPolicy } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { expectCode } from "./support/expect.js";
import { sqliteWorld, type Tier1Client, type World } from "./support/harness.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-threads-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("ListThreadReplies and thread summaries (tier 1: the class)", () => {
  let w: World;
  let alice: Tier1Client;
  let bob: Tier1Client;
  let carol: Tier1Client;
  let conv: string;
  let root: string;
  let n = 0;

  beforeEach(async () => {
    w = await sqliteWorld(dir);
    [alice, bob, carol] = ["alice", "bob", "carol"].map((u) => w.as(u)) as [Tier1Client, Tier1Client, Tier1Client];
    conv = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob", "carol"] })).conversation!.id;
    root = (await alice.sendMessage({ conversationId: conv, clientMessageId: "root", text: "root" })).messageId;
  });
  afterEach(() => w.close());

  const reply = async (who: Tier1Client, text: string, parent = root, conversationId = conv) => {
    w.clock.advance(1000);
    return who.sendMessage({ conversationId, clientMessageId: `r${++n}`, text, threadParentId: parent });
  };

  it("lists a thread's replies oldest first, page by page, and never other threads' or top-level messages", async () => {
    const other = (await bob.sendMessage({ conversationId: conv, clientMessageId: "other", text: "another root" })).messageId;
    const sent = [];
    for (const [i, who] of [alice, bob, carol, bob, alice].entries()) {
      sent.push(await reply(who, `reply ${i}`));
      await reply(carol, `elsewhere ${i}`, other);
      await carol.sendMessage({ conversationId: conv, clientMessageId: `top${i}`, text: `top ${i}` });
    }
    const first = await carol.listThreadReplies({ conversationId: conv, threadParentId: root, pageSize: 2 });
    expect(first.messages.map((m) => m.text)).toEqual(["reply 0", "reply 1"]);
    expect(first.nextPageToken).not.toBe("");
    const second = await carol.listThreadReplies({ conversationId: conv, threadParentId: root, pageSize: 2, pageToken: first.nextPageToken });
    expect(second.messages.map((m) => m.text)).toEqual(["reply 2", "reply 3"]);
    const third = await carol.listThreadReplies({ conversationId: conv, threadParentId: root, pageSize: 2, pageToken: second.nextPageToken });
    expect(third.messages.map((m) => [m.id, m.threadParentId, m.senderId])).toEqual([[sent[4]!.messageId, root, "alice"]]);
    expect(third.nextPageToken).toBe("");
    expect((await bob.listThreadReplies({ conversationId: conv, threadParentId: root })).messages.map((m) => m.seq)).toEqual(sent.map((s) => s.seq));
    // A token belongs to its thread: another parent's query refuses it.
    await expectCode(carol.listThreadReplies({ conversationId: conv, threadParentId: other, pageToken: first.nextPageToken }), Code.InvalidArgument);
    expect((await alice.listThreadReplies({ conversationId: conv, threadParentId: sent[0]!.messageId })).messages).toEqual([]);
  });

  it("puts the thread summary on the root in history and GetMessage: count, last reply, the 5 latest repliers", async () => {
    const users = ["u1", "u2", "u3", "u4", "u5", "u6"];
    await alice.addMembers({ conversationId: conv, userIds: users });
    await reply(bob, "first");
    for (const u of users) await reply(w.as(u), `from ${u}`);
    const last = await reply(bob, "last");
    const { message } = await carol.getMessage({ conversationId: conv, messageId: root });
    expect(message?.thread?.replyCount).toBe(8);
    expect(message?.thread?.lastReplySeq).toBe(last.seq);
    expect(timestampMs(message!.thread!.lastReplyTime!)).toBe(timestampMs(last.createTime!));
    expect(message?.thread?.participantIds).toEqual(["bob", "u6", "u5", "u4", "u3"]);
    const history = await carol.listMessages({ conversationId: conv, excludeThreadReplies: true });
    expect(history.messages.map((m) => [m.id, m.thread?.replyCount])).toEqual([[root, 8]]);
    const replies = (await carol.listMessages({ conversationId: conv })).messages.filter((m) => m.threadParentId === root);
    expect(replies).toHaveLength(8);
    expect(replies.every((m) => m.thread === undefined)).toBe(true);
    // Sync returns the log as stored: the reply events name their root.
    const { events } = await carol.sync({ conversationId: conv, afterSeq: last.seq - 1n });
    expect(events.map((e) => (e.payload.case === "messageCreated" ? e.payload.value.message?.threadParentId : undefined))).toEqual([root]);
  });

  it("shows deleted replies as tombstones, still counted; the root's summary survives the root's deletion", async () => {
    const kept = await reply(bob, "kept");
    const gone = await reply(carol, "secret");
    await carol.deleteMessage({ conversationId: conv, messageId: gone.messageId });
    const { messages } = await bob.listThreadReplies({ conversationId: conv, threadParentId: root });
    expect(messages.map((m) => [m.id, m.deleted, m.text])).toEqual([
      [kept.messageId, false, "kept"],
      [gone.messageId, true, ""],
    ]);
    await alice.deleteMessage({ conversationId: conv, messageId: root });
    const tomb = (await bob.getMessage({ conversationId: conv, messageId: root })).message!;
    expect([tomb.deleted, tomb.text, tomb.thread?.replyCount, tomb.thread?.lastReplySeq]).toEqual([true, "", 2, gone.seq]);
    expect((await bob.listThreadReplies({ conversationId: conv, threadParentId: root })).messages).toHaveLength(2);
  });

  it("answers NOT_FOUND to non-members, other tenants, unknown roots and roots of another conversation (BOLA)", async () => {
    await reply(bob, "hi");
    const req = { conversationId: conv, threadParentId: root };
    await expectCode(w.as("mallory").listThreadReplies(req), Code.NotFound);
    await expectCode(w.as("alice", "other-tenant").listThreadReplies(req), Code.NotFound);
    const elsewhere = (await w.as("mallory").createConversation({ type: ConversationType.GROUP, memberIds: [] })).conversation!.id;
    const foreignRoot = (await w.as("mallory").sendMessage({ conversationId: elsewhere, clientMessageId: "m", text: "mine" })).messageId;
    // Mallory's own root named under alice's conversation, and alice's root under mallory's.
    await expectCode(alice.listThreadReplies({ conversationId: conv, threadParentId: foreignRoot }), Code.NotFound);
    await expectCode(w.as("mallory").listThreadReplies({ conversationId: elsewhere, threadParentId: root }), Code.NotFound);
    await expectCode(alice.listThreadReplies({ conversationId: conv, threadParentId: "0190f1e2-3456-7abc-8def-0123456789ab" }), Code.NotFound);
    // A former member no longer reads the thread.
    await carol.leaveConversation({ conversationId: conv });
    await expectCode(carol.listThreadReplies(req), Code.NotFound);
  });

  it("lets anyone read the threads of an OPEN conversation, and checks its input", async () => {
    const open = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: [], joinPolicy: JoinPolicy.OPEN })).conversation!.id;
    const openRoot = (await alice.sendMessage({ conversationId: open, clientMessageId: "o", text: "open root" })).messageId;
    await reply(alice, "open reply", openRoot, open);
    expect((await w.as("stranger").listThreadReplies({ conversationId: open, threadParentId: openRoot })).messages.map((m) => m.text)).toEqual(["open reply"]);
    await expectCode(alice.listThreadReplies({ conversationId: conv, threadParentId: "nope" }), Code.InvalidArgument);
    await expectCode(alice.listThreadReplies({ conversationId: conv, threadParentId: root, pageSize: 201 }), Code.InvalidArgument);
    await expectCode(alice.listThreadReplies({ conversationId: conv, threadParentId: root, pageToken: "garbage" }), Code.InvalidArgument);
  });
});
