import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { MemberRole } from "@caas/gen/caas/chat/v1/member_pb.js";
import { scopeFromVerifiedClaims } from "@caas/shared/tenant-scope";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { openChatSqlite } from "../src/adapters/chat-sqlite.js";
import { createSqliteMessageMarkStore } from "../src/adapters/message-mark-store-sqlite.js";
import { replayMarks } from "../src/domain/marks.js";
import { expectCode } from "./support/expect.js";
import { sqliteWorld, type Tier1Client, type World } from "./support/harness.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-react-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("reactions and pins (tier 1: the class)", () => {
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
    msg = (await bob.sendMessage({ conversationId: conv, clientMessageId: "k1", text: "hello" })).messageId;
  });
  afterEach(() => w.close());

  const ids = () => ({ conversationId: conv, messageId: msg });
  const head = async () => (await alice.sync({ conversationId: conv })).headSeq;

  it("counts reactions per user per emoji, most frequent first, with the reader's own flagged; each change is one event", async () => {
    await bob.addReaction({ ...ids(), reaction: "👍" });
    await carol.addReaction({ ...ids(), reaction: "👍" });
    await carol.addReaction({ ...ids(), reaction: ":tada:" });
    const seen = (await carol.getMessage(ids())).message?.reactions.map((r) => [r.reaction, r.count, r.reacted]);
    expect(seen).toEqual([
      ["👍", 2, true],
      [":tada:", 1, true],
    ]);
    expect((await alice.listMessages({ conversationId: conv })).messages[0]?.reactions.map((r) => [r.reaction, r.count, r.reacted])).toEqual([
      ["👍", 2, false],
      [":tada:", 1, false],
    ]);
    const { events } = await alice.sync({ conversationId: conv, afterSeq: 2n });
    expect(events.map((e) => [e.payload.case, e.actorId, (e.payload.value as { reaction?: string }).reaction])).toEqual([
      ["reactionAdded", "bob", "👍"],
      ["reactionAdded", "carol", "👍"],
      ["reactionAdded", "carol", ":tada:"],
    ]);
    await carol.removeReaction({ ...ids(), reaction: "👍" });
    expect((await carol.getMessage(ids())).message?.reactions.map((r) => [r.reaction, r.count, r.reacted])).toEqual([
      [":tada:", 1, true],
      ["👍", 1, false],
    ]);
    expect((await alice.sync({ conversationId: conv, afterSeq: 5n })).events.map((e) => e.payload.case)).toEqual(["reactionRemoved"]);
  });

  it("is idempotent: adding a present reaction or removing an absent one appends nothing", async () => {
    await bob.addReaction({ ...ids(), reaction: "👍" });
    await bob.addReaction({ ...ids(), reaction: "👍" });
    await bob.removeReaction({ ...ids(), reaction: "❤️" });
    expect(await head()).toBe(3n);
    await bob.removeReaction({ ...ids(), reaction: "👍" });
    await bob.removeReaction({ ...ids(), reaction: "👍" });
    expect(await head()).toBe(4n);
    // Adding it back is a new event.
    await bob.addReaction({ ...ids(), reaction: "👍" });
    expect(await head()).toBe(5n);
    expect((await bob.getMessage(ids())).message?.reactions).toMatchObject([{ reaction: "👍", count: 1, reacted: true }]);
  });

  it("limits a user to 20 distinct reactions on a message, and checks the reaction", async () => {
    for (let i = 0; i < 20; i++) await bob.addReaction({ ...ids(), reaction: `:r${i}:` });
    await expectCode(bob.addReaction({ ...ids(), reaction: ":r20:" }), Code.FailedPrecondition);
    await carol.addReaction({ ...ids(), reaction: ":r20:" });
    await bob.removeReaction({ ...ids(), reaction: ":r0:" });
    await bob.addReaction({ ...ids(), reaction: ":r20:" });
    await expectCode(bob.addReaction({ ...ids(), reaction: "" }), Code.InvalidArgument);
    await expectCode(bob.addReaction({ ...ids(), reaction: "x".repeat(33) }), Code.InvalidArgument);
    await expectCode(bob.addReaction({ ...ids(), reaction: "a\u0000" }), Code.InvalidArgument);
  });

  it("refuses reactions and pins on deleted messages (FAILED_PRECONDITION); a tombstone shows no reactions", async () => {
    await carol.addReaction({ ...ids(), reaction: "👍" });
    await bob.deleteMessage(ids());
    await expectCode(carol.addReaction({ ...ids(), reaction: "❤️" }), Code.FailedPrecondition);
    await expectCode(alice.pinMessage(ids()), Code.FailedPrecondition);
    expect((await carol.getMessage(ids())).message?.reactions).toEqual([]);
    // Removing what is left is allowed.
    await carol.removeReaction({ ...ids(), reaction: "👍" });
  });

  it("lets owners and admins pin (any member in DIRECT), lists pins newest first, and caps them at 50", async () => {
    await expectCode(bob.pinMessage(ids()), Code.PermissionDenied);
    await alice.pinMessage(ids());
    await alice.pinMessage(ids());
    expect(await head()).toBe(3n);
    const second = (await bob.sendMessage({ conversationId: conv, clientMessageId: "k2", text: "two" })).messageId;
    await alice.updateMemberRole({ conversationId: conv, userId: "bob", role: MemberRole.ADMIN });
    await bob.pinMessage({ conversationId: conv, messageId: second });
    const { pins } = await carol.listPins({ conversationId: conv });
    expect(pins.map((p) => [p.message?.text, p.pinnedBy, p.message?.pinned])).toEqual([
      ["two", "bob", true],
      ["hello", "alice", true],
    ]);
    const paged = await carol.listPins({ conversationId: conv, pageSize: 1 });
    expect(paged.pins.map((p) => p.message?.id)).toEqual([second]);
    expect((await carol.listPins({ conversationId: conv, pageSize: 1, pageToken: paged.nextPageToken })).pins.map((p) => p.message?.id)).toEqual([msg]);
    await expectCode(carol.unpinMessage(ids()), Code.PermissionDenied);
    await alice.unpinMessage(ids());
    await alice.unpinMessage(ids());
    expect((await carol.getMessage(ids())).message?.pinned).toBe(false);
    const { events } = await carol.sync({ conversationId: conv, afterSeq: 2n });
    expect(events.map((e) => e.payload.case)).toEqual(["messagePinned", "messageCreated", "memberRoleChanged", "messagePinned", "messageUnpinned"]);

    const direct = (await carol.createConversation({ type: ConversationType.DIRECT, memberIds: ["bob"] })).conversation!.id;
    const dm = (await carol.sendMessage({ conversationId: direct, clientMessageId: "d", text: "dm" })).messageId;
    await bob.pinMessage({ conversationId: direct, messageId: dm });
    expect((await carol.listPins({ conversationId: direct })).pins).toHaveLength(1);
  });

  it("refuses a 51st pin", async () => {
    const sent: string[] = [];
    for (let i = 0; i < 51; i++) {
      w.clock.advance(200); // past the send rate limit
      sent.push((await alice.sendMessage({ conversationId: conv, clientMessageId: `p${i}`, text: `m${i}` })).messageId);
    }
    for (const id of sent.slice(0, 50)) await alice.pinMessage({ conversationId: conv, messageId: id });
    await expectCode(alice.pinMessage({ conversationId: conv, messageId: sent[50]! }), Code.FailedPrecondition);
    await alice.unpinMessage({ conversationId: conv, messageId: sent[0]! });
    await alice.pinMessage({ conversationId: conv, messageId: sent[50]! });
  });

  it("rebuilds the same reaction counts, pins and edits by replaying the log into an empty projection", async () => {
    await bob.addReaction({ ...ids(), reaction: "👍" });
    await carol.addReaction({ ...ids(), reaction: "👍" });
    await carol.removeReaction({ ...ids(), reaction: "👍" });
    await carol.addReaction({ ...ids(), reaction: "❤️" });
    await alice.pinMessage(ids());
    await bob.editMessage({ ...ids(), text: "edited" });
    const tenant = scopeFromVerifiedClaims({ tenant: w.tenantId });
    const live = w.instance.stores.marks;
    const db = await openChatSqlite({ path: ":memory:" });
    try {
      const fresh = createSqliteMessageMarkStore({ db });
      expect(await replayMarks(tenant, conv, w.instance.stores.events, fresh, 2)).toBe(6);
      const sort = (xs: { seq: number }[]) => [...xs].sort((a, b) => a.seq - b.seq);
      const seq = Number((await bob.getMessage(ids())).message!.seq);
      expect(sort(await fresh.ofMessages(tenant, conv, [seq]))).toEqual(sort(await live.ofMessages(tenant, conv, [seq])));
      // Replaying again changes nothing.
      await replayMarks(tenant, conv, w.instance.stores.events, fresh);
      expect(await fresh.count(tenant, conv, { kind: "reaction" })).toBe(2);
    } finally {
      db.close();
    }
  });

  it("answers NOT_FOUND to non-members, other tenants and messages of other conversations (BOLA)", async () => {
    const other = (await w.as("dave").createConversation({ type: ConversationType.GROUP })).conversation!.id;
    for (const p of [w.as("dave"), w.as("alice", "tenantbee"), w.as("bob", "tenantbee")]) {
      await expectCode(p.addReaction({ ...ids(), reaction: "👍" }), Code.NotFound);
      await expectCode(p.removeReaction({ ...ids(), reaction: "👍" }), Code.NotFound);
      await expectCode(p.pinMessage(ids()), Code.NotFound);
      await expectCode(p.unpinMessage(ids()), Code.NotFound);
      await expectCode(p.listPins({ conversationId: conv }), Code.NotFound);
    }
    await expectCode(w.as("dave").addReaction({ conversationId: other, messageId: msg, reaction: "👍" }), Code.NotFound);
    await expectCode(w.as("dave").pinMessage({ conversationId: other, messageId: msg }), Code.NotFound);
    expect(await head()).toBe(2n);
  });
});
