import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { toBinary } from "@bufbuild/protobuf";
import { EventSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { MemberRole } from "@caas/gen/caas/chat/v1/member_pb.js";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { expectCode } from "./support/expect.js";
import { sqliteWorld, type Tier1Client, type World } from "./support/harness.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-del-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Whether `text` occurs anywhere in the encoded events (every field, nested too). */
function bytesContain(events: Parameters<typeof toBinary<typeof EventSchema>>[1][], text: string): boolean {
  return events.some((e) => Buffer.from(toBinary(EventSchema, e)).includes(Buffer.from(text)));
}

describe("DeleteMessage: delete for everyone (tier 1: the class)", () => {
  let w: World;
  let alice: Tier1Client;
  let bob: Tier1Client;
  let carol: Tier1Client;
  let conv: string;

  beforeEach(async () => {
    w = await sqliteWorld(dir);
    [alice, bob, carol] = ["alice", "bob", "carol"].map((u) => w.as(u)) as [Tier1Client, Tier1Client, Tier1Client];
    conv = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob", "carol"] })).conversation!.id;
  });
  afterEach(() => w.close());

  let sent = 0;
  // The client message id is metadata a tombstone keeps: it never contains the text here.
  const send = (client: Tier1Client, text: string) => client.sendMessage({ conversationId: conv, clientMessageId: `c${++sent}`, text, mentionedUserIds: ["carol"], custom: { secret: text } });

  it("lets the sender delete: a MessageDeleted event, and the body is gone from ListMessages, GetMessage, Sync, GetChanges and the conversation preview", async () => {
    const ack = await send(bob, "password123");
    await bob.deleteMessage({ conversationId: conv, messageId: ack.messageId });

    const { message } = await carol.getMessage({ conversationId: conv, messageId: ack.messageId });
    expect(message).toMatchObject({ id: ack.messageId, seq: ack.seq, senderId: "bob", text: "", mentionedUserIds: [], deleted: true });
    expect(message?.custom).toBeUndefined();
    const listed = (await carol.listMessages({ conversationId: conv })).messages;
    expect(listed.map((m) => [m.id, m.text, m.deleted])).toEqual([[ack.messageId, "", true]]);

    const { events } = await carol.sync({ conversationId: conv });
    expect(events.map((e) => e.payload.case)).toEqual(["conversationCreated", "messageCreated", "messageDeleted"]);
    expect(events[2]).toMatchObject({ seq: 3n, actorId: "bob", payload: { value: { messageId: ack.messageId } } });
    expect(bytesContain(events, "password123")).toBe(false);

    const changes = await carol.getChanges({ perConversationLimit: 10 });
    expect(
      bytesContain(
        changes.conversations.flatMap((c) => c.events),
        "password123",
      ),
    ).toBe(false);
    expect(changes.conversations[0]?.events.map((e) => e.payload.case)).toContain("messageDeleted");

    const preview = (await carol.getConversation({ conversationId: conv })).conversation?.lastMessage;
    expect(preview).toMatchObject({ messageId: ack.messageId, textPreview: "", deleted: true });
    expect(w.instance.commits.map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it("is idempotent: deleting again appends nothing", async () => {
    const ack = await send(bob, "once");
    await bob.deleteMessage({ conversationId: conv, messageId: ack.messageId });
    await bob.deleteMessage({ conversationId: conv, messageId: ack.messageId });
    await alice.deleteMessage({ conversationId: conv, messageId: ack.messageId });
    expect((await alice.sync({ conversationId: conv })).headSeq).toBe(3n);
  });

  it("completes a delete whose redaction did not happen (a retry after a crash between the steps)", async () => {
    const ack = await send(bob, "half");
    const redact = w.instance.stores.events.redact.bind(w.instance.stores.events);
    w.instance.stores.events.redact = async () => {
      throw new Error("crash");
    };
    await expect(bob.deleteMessage({ conversationId: conv, messageId: ack.messageId })).rejects.toThrow("crash");
    w.instance.stores.events.redact = redact;
    await bob.deleteMessage({ conversationId: conv, messageId: ack.messageId });
    expect((await alice.getMessage({ conversationId: conv, messageId: ack.messageId })).message?.deleted).toBe(true);
    // The retried MessageDeleted was a duplicate of the first: one event.
    expect((await alice.sync({ conversationId: conv })).events.map((e) => e.payload.case)).toEqual(["conversationCreated", "messageCreated", "messageDeleted"]);
  });

  it("lets owners and admins delete anyone's message as moderators; other members get PERMISSION_DENIED", async () => {
    const first = await send(carol, "one");
    const second = await send(carol, "two");
    await expectCode(bob.deleteMessage({ conversationId: conv, messageId: first.messageId }), Code.PermissionDenied);
    await alice.deleteMessage({ conversationId: conv, messageId: first.messageId });
    await alice.updateMemberRole({ conversationId: conv, userId: "bob", role: MemberRole.ADMIN });
    await bob.deleteMessage({ conversationId: conv, messageId: second.messageId });
    const { events } = await carol.sync({ conversationId: conv, afterSeq: 3n });
    expect(events.filter((e) => e.payload.case === "messageDeleted").map((e) => e.actorId)).toEqual(["alice", "bob"]);
    expect((await carol.listMessages({ conversationId: conv })).messages.every((m) => m.deleted && m.text === "")).toBe(true);
  });

  it("keeps a later message's preview when an older one is deleted", async () => {
    const old = await send(bob, "old");
    await send(bob, "new");
    await bob.deleteMessage({ conversationId: conv, messageId: old.messageId });
    expect((await alice.getConversation({ conversationId: conv })).conversation?.lastMessage).toMatchObject({ textPreview: "new", deleted: false });
  });

  it("answers NOT_FOUND to non-members, former members, other tenants, unknown messages and non-message events (BOLA)", async () => {
    const ack = await send(bob, "mine");
    const outsider = (await w.as("dave").createConversation({ type: ConversationType.GROUP })).conversation!.id;
    await carol.leaveConversation({ conversationId: conv });
    for (const p of [w.as("dave"), carol, w.as("bob", "tenantbee"), w.as("alice", "tenantbee")]) {
      await expectCode(p.deleteMessage({ conversationId: conv, messageId: ack.messageId }), Code.NotFound);
    }
    // A message id from another conversation, and the seq of a non-message event.
    await expectCode(w.as("dave").deleteMessage({ conversationId: outsider, messageId: ack.messageId }), Code.NotFound);
    const created = (await alice.sync({ conversationId: conv })).events[0]!;
    const { messageIdFor } = await import("../src/domain/message-ids.js");
    await expectCode(alice.deleteMessage({ conversationId: conv, messageId: messageIdFor(1, Number(created.createTime!.seconds) * 1000) }), Code.NotFound);
    await expectCode(alice.deleteMessage({ conversationId: conv, messageId: "not-a-uuid" }), Code.InvalidArgument);
    expect((await bob.getMessage({ conversationId: conv, messageId: ack.messageId })).message?.text).toBe("mine");
  });
});
