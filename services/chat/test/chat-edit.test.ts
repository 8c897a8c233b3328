import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { toBinary } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { EventSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { expectCode } from "./support/expect.js";
import { sqliteWorld, type Tier1Client, type World } from "./support/harness.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-edit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("EditMessage and ListEditHistory (tier 1: the class)", () => {
  let w: World;
  let alice: Tier1Client;
  let bob: Tier1Client;
  let carol: Tier1Client;
  let conv: string;
  let msg: string;

  beforeEach(async () => {
    w = await sqliteWorld(dir);
    [alice, bob, carol] = ["alice", "bob", "carol"].map((u) => w.as(u)) as [Tier1Client, Tier1Client, Tier1Client];
    conv = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob", "carol"] })).conversation!.id;
    msg = (await bob.sendMessage({ conversationId: conv, clientMessageId: "k1", text: "first draft", custom: { v: 1 } })).messageId;
  });
  afterEach(() => w.close());

  it("replaces the body for every reader, appends MessageEdited, and keeps every version in the history", async () => {
    w.clock.advance(1000);
    const { message } = await bob.editMessage({ conversationId: conv, messageId: msg, text: "second", mentionedUserIds: ["carol", "zed"] });
    expect(message).toMatchObject({ id: msg, seq: 2n, text: "second", mentionedUserIds: ["carol"], senderId: "bob" });
    expect(message?.custom).toBeUndefined();
    expect(timestampMs(message!.editTime!)).toBe(w.clock.nowMs());
    w.clock.advance(1000);
    await bob.editMessage({ conversationId: conv, messageId: msg, text: "third", custom: { v: 3 } });

    expect((await carol.getMessage({ conversationId: conv, messageId: msg })).message).toMatchObject({ text: "third", custom: { v: 3 } });
    expect((await carol.listMessages({ conversationId: conv })).messages.map((m) => m.text)).toEqual(["third"]);
    const { events } = await carol.sync({ conversationId: conv, afterSeq: 2n });
    expect(events.map((e) => [e.payload.case, e.actorId])).toEqual([
      ["messageEdited", "bob"],
      ["messageEdited", "bob"],
    ]);
    const history = await carol.listEditHistory({ conversationId: conv, messageId: msg });
    expect(history.revisions.map((r) => [r.seq, r.text])).toEqual([
      [2n, "first draft"],
      [3n, "second"],
      [4n, "third"],
    ]);
    expect(history.revisions[1]?.mentionedUserIds).toEqual(["carol"]);
    // Paged.
    const first = await carol.listEditHistory({ conversationId: conv, messageId: msg, pageSize: 2 });
    expect(first.revisions.map((r) => r.text)).toEqual(["first draft", "second"]);
    const rest = await carol.listEditHistory({ conversationId: conv, messageId: msg, pageSize: 2, pageToken: first.nextPageToken });
    expect(rest.revisions.map((r) => r.text)).toEqual(["third"]);
    expect(rest.nextPageToken).toBe("");
    await expectCode(carol.listEditHistory({ conversationId: conv, messageId: msg, pageToken: "forged" }), Code.InvalidArgument);
  });

  it("makes a retried edit of the same version one event", async () => {
    await bob.editMessage({ conversationId: conv, messageId: msg, text: "again" });
    await bob.editMessage({ conversationId: conv, messageId: msg, text: "again" });
    expect((await alice.sync({ conversationId: conv })).headSeq).toBe(4n);
    expect((await alice.listEditHistory({ conversationId: conv, messageId: msg })).revisions).toHaveLength(3);
  });

  it("lets only the sender edit: others, owners included, get PERMISSION_DENIED", async () => {
    await expectCode(alice.editMessage({ conversationId: conv, messageId: msg, text: "mod" }), Code.PermissionDenied);
    await expectCode(carol.editMessage({ conversationId: conv, messageId: msg, text: "x" }), Code.PermissionDenied);
    expect((await alice.getMessage({ conversationId: conv, messageId: msg })).message?.text).toBe("first draft");
  });

  it("refuses an empty body, deleted messages and archived conversations", async () => {
    await expectCode(bob.editMessage({ conversationId: conv, messageId: msg, text: "" }), Code.InvalidArgument);
    await expectCode(bob.editMessage({ conversationId: conv, messageId: msg, text: "x".repeat(4001) }), Code.InvalidArgument);
    await alice.archiveConversation({ conversationId: conv });
    await expectCode(bob.editMessage({ conversationId: conv, messageId: msg, text: "late" }), Code.FailedPrecondition);
    await alice.unarchiveConversation({ conversationId: conv });
    await bob.deleteMessage({ conversationId: conv, messageId: msg });
    await expectCode(bob.editMessage({ conversationId: conv, messageId: msg, text: "late" }), Code.FailedPrecondition);
  });

  it("redacts every version when the message is deleted: the history is empty and no event carries a version", async () => {
    await bob.editMessage({ conversationId: conv, messageId: msg, text: "edited secret", custom: { s: "edited secret" } });
    await bob.deleteMessage({ conversationId: conv, messageId: msg });
    expect((await carol.listEditHistory({ conversationId: conv, messageId: msg })).revisions).toEqual([]);
    const { message } = await carol.getMessage({ conversationId: conv, messageId: msg });
    expect(message).toMatchObject({ text: "", deleted: true });
    expect(message?.editTime).toBeUndefined();
    const { events } = await carol.sync({ conversationId: conv });
    expect(events.map((e) => e.payload.case)).toEqual(["conversationCreated", "messageCreated", "messageEdited", "messageDeleted"]);
    const bytes = Buffer.concat(events.map((e) => toBinary(EventSchema, e)));
    expect(bytes.includes(Buffer.from("first draft"))).toBe(false);
    expect(bytes.includes(Buffer.from("edited secret"))).toBe(false);
    expect(events[2]?.payload.value).toMatchObject({ messageId: msg, text: "" });
  });

  it("redacts an edit that a concurrent delete missed: the editor finds the message deleted and redacts its own edit", async () => {
    const marks = w.instance.stores.marks;
    const apply = marks.apply.bind(marks);
    // The delete runs between the edit's commit and its mark, so the delete does not see the edit.
    marks.apply = async (scope, mark) => {
      if (mark.kind === "edit") await alice.deleteMessage({ conversationId: conv, messageId: msg });
      return apply(scope, mark);
    };
    await expectCode(bob.editMessage({ conversationId: conv, messageId: msg, text: "racing secret" }), Code.FailedPrecondition);
    marks.apply = apply;
    const { events } = await carol.sync({ conversationId: conv });
    expect(events.map((e) => e.payload.case)).toEqual(["conversationCreated", "messageCreated", "messageEdited", "messageDeleted"]);
    const bytes = Buffer.concat(events.map((e) => toBinary(EventSchema, e)));
    expect(bytes.includes(Buffer.from("racing secret"))).toBe(false);
  });

  it("answers NOT_FOUND to non-members, other tenants and unknown messages (BOLA)", async () => {
    const outsider = w.as("dave");
    for (const p of [outsider, w.as("bob", "tenantbee")]) {
      await expectCode(p.editMessage({ conversationId: conv, messageId: msg, text: "x" }), Code.NotFound);
      await expectCode(p.listEditHistory({ conversationId: conv, messageId: msg }), Code.NotFound);
    }
    const other = (await bob.createConversation({ type: ConversationType.GROUP })).conversation!.id;
    await expectCode(bob.editMessage({ conversationId: other, messageId: msg, text: "x" }), Code.NotFound);
    await expectCode(bob.listEditHistory({ conversationId: other, messageId: msg }), Code.NotFound);
  });
});
