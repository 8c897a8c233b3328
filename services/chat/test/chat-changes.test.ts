import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import type { GetChangesResponse } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { expectCode } from "./support/expect.js";
import { sqliteWorld, type Tier1Client, type World } from "./support/harness.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-changes-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** conversation id -> seqs returned, per response. */
function seqs(res: GetChangesResponse): Record<string, number[]> {
  return Object.fromEntries(res.conversations.map((c) => [c.conversationId, c.events.map((e) => Number(e.seq))]));
}

describe("ChatService GetChanges (tier 1: the class)", () => {
  let w: World;
  let alice: Tier1Client;
  let bob: Tier1Client;

  beforeEach(async () => {
    w = await sqliteWorld(dir);
    [alice, bob] = ["alice", "bob"].map((u) => w.as(u)) as [Tier1Client, Tier1Client];
  });
  afterEach(() => w.close());

  const group = async (members = ["bob"]) => (await alice.createConversation({ type: ConversationType.GROUP, memberIds: members })).conversation!.id;
  const send = (conversationId: string, n: number, from = alice, tag = "m") =>
    (async () => {
      for (let i = 0; i < n; i++) await from.sendMessage({ conversationId, clientMessageId: `${tag}-${i}-${w.clock.nowMs()}`, text: `${tag}${i}` });
    })();

  it("starts from scratch with every conversation and its newest events, then returns only what changed", async () => {
    const a = await group();
    const b = await group();
    await send(a, 3);
    // Cursors made well after the changes (past the overlap window) do not repeat them.
    w.clock.advance(60_000);
    const first = await bob.getChanges({ perConversationLimit: 10 });
    expect(seqs(first)).toEqual({ [a]: [1, 2, 3, 4], [b]: [1] });
    expect(first.hasMore).toBe(false);
    const viewOfA = first.conversations.find((c) => c.conversationId === a)!;
    expect(viewOfA.conversation?.lastSeq).toBe(4n);
    expect(viewOfA.readState).toMatchObject({ lastReadSeq: 1n, unreadCount: 3 });
    expect(viewOfA.limited).toBe(false);

    const quiet = await bob.getChanges({ cursor: first.nextCursor });
    expect(quiet.conversations).toEqual([]);
    w.clock.advance(60_000);
    await send(b, 2, alice, "x");
    const later = await bob.getChanges({ cursor: quiet.nextCursor });
    expect(seqs(later)).toEqual({ [b]: [2, 3] });
  });

  it("leaves out what the client's positions say it holds; limited counts only the rest; a position past the head is ignored", async () => {
    const a = await group();
    const b = await group();
    await send(a, 10); // seqs 2..11 after the creation
    await send(b, 2); // seqs 2..3
    const at = (conversationId: string, seq: number) => ({ conversationId, seq: BigInt(seq) });
    const limitedOf = (res: GetChangesResponse, id: string) => res.conversations.find((c) => c.conversationId === id)?.limited;
    const near = await bob.getChanges({ perConversationLimit: 3, positions: [at(a, 9)] });
    expect(seqs(near)).toEqual({ [a]: [10, 11], [b]: [1, 2, 3] });
    expect(limitedOf(near, a)).toBe(false);
    const far = await bob.getChanges({ perConversationLimit: 3, positions: [at(a, 5), at(b, 3)] });
    expect(seqs(far)).toEqual({ [a]: [9, 10, 11], [b]: [] });
    expect(limitedOf(far, a)).toBe(true);
    // Listed twice: the lower seq counts. Past the head: as if not listed.
    expect(seqs(await bob.getChanges({ perConversationLimit: 3, positions: [at(a, 10), at(a, 9)] }))[a]).toEqual([10, 11]);
    const beyond = await bob.getChanges({ perConversationLimit: 3, positions: [at(a, 12)] });
    expect(seqs(beyond)).toEqual(seqs(await bob.getChanges({ perConversationLimit: 3 })));
    expect(limitedOf(beyond, a)).toBe(true);
  });

  it("reads from the log only what the client's position leaves out: the same events and limited as the whole window, trimmed", async () => {
    const a = await group();
    await send(a, 8); // seqs 2..9 after the creation
    const at = (seq: number) => [{ conversationId: a, seq: BigInt(seq) }];
    const reads: Array<{ afterSeq: number; limit: number }> = [];
    const events = w.instance.stores.events;
    const read = events.read.bind(events);
    events.read = (scope, conversationId, afterSeq, limit) => {
      reads.push({ afterSeq, limit });
      return read(scope, conversationId, afterSeq, limit);
    };
    const whole = await bob.getChanges({ perConversationLimit: 4 });
    const wholeSeqs = seqs(whole)[a]!;
    for (let position = 0; position <= 10; position++) {
      reads.length = 0;
      const trimmed = (await bob.getChanges({ perConversationLimit: 4, positions: at(position) })).conversations.find((c) => c.conversationId === a)!;
      // What the whole window held past the position (a position past the head counts as none).
      const past = position > 9 ? 0 : position;
      const window = [4, 5, 6, 7, 8, 9].filter((seq) => seq > past);
      expect(trimmed.events.map((e) => Number(e.seq))).toEqual(window.slice(-4));
      expect(trimmed.limited).toBe(window.length > 4);
      if (past === 0) expect(trimmed.events.map((e) => Number(e.seq))).toEqual(wholeSeqs);
      // Holding the head: nothing read; otherwise nothing at or below the position.
      if (past === 9) expect(reads).toEqual([]);
      else expect(reads.every((r) => r.afterSeq >= past)).toBe(true);
    }
  });

  it("includes new conversations and membership changes, and a removal ends the caller's events", async () => {
    const kept = await group();
    w.clock.advance(60_000);
    const start = await bob.getChanges({});
    w.clock.advance(60_000);
    const added = await group(["carol"]);
    await alice.addMembers({ conversationId: added, userIds: ["bob"] });
    await alice.removeMember({ conversationId: kept, userId: "bob" });
    await send(kept, 2);
    w.clock.advance(60_000);
    const res = await bob.getChanges({ cursor: start.nextCursor });
    expect(seqs(res)).toEqual({ [added]: [1, 2], [kept]: [2] });
    const removed = res.conversations.find((c) => c.conversationId === kept)!;
    expect(removed.conversation).toBeUndefined();
    expect(removed.events[0]?.payload.case).toBe("memberRemoved");
    expect(res.conversations.find((c) => c.conversationId === added)!.conversation?.memberCount).toBe(3);
    // Once past the removal, the old conversation is gone from the changes.
    await send(kept, 1, alice, "y");
    expect((await bob.getChanges({ cursor: res.nextCursor })).conversations).toEqual([]);
  });

  it("marks a conversation limited when it changed more than per_conversation_limit times", async () => {
    const busy = await group();
    w.clock.advance(60_000);
    const start = await bob.getChanges({});
    w.clock.advance(60_000);
    await send(busy, 7);
    const res = await bob.getChanges({ cursor: start.nextCursor, perConversationLimit: 3 });
    expect(seqs(res)).toEqual({ [busy]: [6, 7, 8] });
    expect(res.conversations[0]!.limited).toBe(true);
    // The client fills the gap through Sync from its newest known seq (1) up to events[0] (6).
    const gap = await bob.sync({ conversationId: busy, afterSeq: 1n, limit: 4 });
    expect(gap.events.map((e) => Number(e.seq))).toEqual([2, 3, 4, 5]);
    const exact = await bob.getChanges({ cursor: start.nextCursor, perConversationLimit: 7 });
    expect(exact.conversations[0]!.limited).toBe(false);
  });

  it("repeats events inside the overlap window rather than risking a skip", async () => {
    const c = await group();
    const first = await bob.getChanges({});
    w.clock.advance(1);
    await send(c, 1);
    const next = await bob.getChanges({ cursor: first.nextCursor });
    // seq 1 committed within the overlap before the cursor: it may come again; seq 2 must.
    expect(seqs(next)[c]).toEqual([1, 2]);
  });

  it("pages through many changed conversations with has_more, each at most once per response", async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) {
      w.clock.advance(10);
      ids.push(await group());
    }
    w.clock.advance(60_000);
    const seen: string[] = [];
    let cursor = "";
    for (let i = 0; i < 5; i++) {
      const res = await bob.getChanges({ cursor, limit: 2 });
      const page = res.conversations.map((c) => c.conversationId);
      expect(new Set(page).size).toBe(page.length);
      seen.push(...page);
      cursor = res.nextCursor;
      if (!res.hasMore) break;
    }
    expect(seen).toEqual(ids);
    expect((await bob.getChanges({ cursor })).conversations).toEqual([]);
  });

  it("refuses a malformed cursor, one issued to another user, and an expired one", async () => {
    await group();
    const mine = await bob.getChanges({});
    await expectCode(alice.getChanges({ cursor: mine.nextCursor }), Code.InvalidArgument);
    await expectCode(w.as("bob", "tenantzed").getChanges({ cursor: mine.nextCursor }), Code.InvalidArgument);
    await expectCode(bob.getChanges({ cursor: "garbage" }), Code.InvalidArgument);
    await expectCode(bob.getChanges({ cursor: `${mine.nextCursor}x` }), Code.InvalidArgument);
    w.clock.advance(31 * 24 * 3600 * 1000);
    await expectCode(bob.getChanges({ cursor: mine.nextCursor }), Code.FailedPrecondition);
  });
});
