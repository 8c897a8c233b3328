import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { createLogger } from "@caas/shared/logger";
import { createMemoryRateLimiter } from "@caas/shared/rate-limiting/memory";
import { createKafkaEventBus } from "@caas/shared/eventing/kafka";
import { createSqliteEventBus } from "@caas/shared/eventing/sqlite";
import { FakeClock, systemClock } from "@caas/shared/clock";
import { PageTokenCodec } from "@caas/shared/page-token";
import { USER_STATE_EVENTS } from "@caas/shared/eventing/topics";
import type { EventBus, Subscription } from "@caas/shared/eventing/bus";
import { freshTenantScope, infraEnv, RUN_PREFIX } from "@caas/shared/testing";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { ChatServiceImpl } from "../src/chat-service.js";
import { openChatStores, type ChatStores } from "../src/chat-stores.js";
import type { ChatLimits } from "../src/core.js";
import type { UserStateRecord } from "../src/user-state.js";
import { expectCode } from "./support/expect.js";
import { asPrincipal, userPrincipal, type Tier1Client } from "./support/harness.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-receipts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const logger = createLogger({ service: "test", instance: "t", level: "error" });

/** One chat instance whose user-state records go to an embedded (SQLite) bus, as in embedded mode. */
interface ReceiptWorld {
  tenantId: string;
  clock: FakeClock;
  stores: ChatStores;
  bus: EventBus;
  as(userId: string, tenantId?: string): Tier1Client;
  close(): Promise<void>;
}

async function receiptWorld(limits?: Partial<ChatLimits>, makeBus?: () => Promise<EventBus>): Promise<ReceiptWorld> {
  const clock = new FakeClock();
  const stores = await openChatStores({ kind: "sqlite", path: join(dir, `chat-${randomUUID()}.db`) }, { clock });
  const bus = makeBus ? await makeBus() : await createSqliteEventBus({ path: join(dir, `bus-${randomUUID()}.db`), clock: systemClock, logger });
  const impl = new ChatServiceImpl({
    stores,
    clock,
    pageTokens: new PageTokenCodec(randomBytes(32)),
    rateLimiter: createMemoryRateLimiter({ clock }),
    ...(limits ? { limits } : {}),
    publishUserState: (record) => bus.publish(USER_STATE_EVENTS, [record]),
  });
  const tenantId = freshTenantScope().tenantId;
  return {
    tenantId,
    clock,
    stores,
    bus,
    as: (userId, tenant = tenantId) => asPrincipal(impl, userPrincipal(tenant, userId)),
    close: async () => {
      await bus.close();
      await stores.close();
    },
  };
}

/** Polls until `check` passes (or fails the test after `ms`). */
async function eventually(check: () => void, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/**
 * Moves bob's markers (twice each, the second time backwards) and expects exactly one
 * DeliveryMarkerMoved and one ReadMarkerMoved for him on the bus, in order, as the proto defines them.
 */
async function expectMarkerRecords(w: ReceiptWorld, waitMs: number): Promise<void> {
  const [alice, bob] = [w.as("alice"), w.as("bob")];
  const conv = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
  const got: UserStateRecord[] = [];
  const sub: Subscription = await w.bus.subscribe(USER_STATE_EVENTS, { group: `test-${randomUUID()}`, from: "earliest" }, async (r) => {
    got.push(r);
  });
  try {
    const a = await alice.sendMessage({ conversationId: conv, clientMessageId: "m1", text: "@bob", mentionedUserIds: ["bob"] });
    const b = await alice.sendMessage({ conversationId: conv, clientMessageId: "m2", text: "two" });
    await bob.markDelivered({ conversationId: conv, seq: b.seq });
    await bob.markDelivered({ conversationId: conv, seq: a.seq }); // no move: nothing published
    await bob.markRead({ conversationId: conv, seq: a.seq });
    await bob.markRead({ conversationId: conv, seq: a.seq }); // no move
    await eventually(() => expect(got.filter((r) => r.key === `${w.tenantId}/bob`)).toHaveLength(2), waitMs);
    const mine = got.filter((r) => r.key === `${w.tenantId}/bob`);
    expect(mine.map((r) => r.value.payload.case)).toEqual(["deliveryMarkerMoved", "readMarkerMoved"]);
    const [delivered, read] = mine.map((r) => r.value);
    expect(delivered).toMatchObject({ tenantId: w.tenantId, userId: "bob" });
    expect(delivered!.eventId).toMatch(/^[0-9a-f-]{36}$/);
    const stateOf = (e: typeof delivered) => (e!.payload.case === "readMarkerMoved" || e!.payload.case === "deliveryMarkerMoved" ? e!.payload.value.readState : undefined);
    expect(stateOf(delivered)).toMatchObject({ conversationId: conv, userId: "bob", lastDeliveredSeq: b.seq, lastReadSeq: 1n, unreadCount: 2, mentionCount: 1 });
    expect(stateOf(read)).toMatchObject({ conversationId: conv, userId: "bob", lastReadSeq: a.seq, lastDeliveredSeq: b.seq, unreadCount: 1, mentionCount: 0 });
    // Sending moved alice's own read position through the send path, not MarkRead: nothing published for her.
    expect(got.filter((r) => r.key === `${w.tenantId}/alice`)).toEqual([]);
  } finally {
    await sub.close();
  }
}

describe("mentions, delivery and read markers, read-by (tier 1: the class)", () => {
  let w: ReceiptWorld;
  let alice: Tier1Client;
  let bob: Tier1Client;
  let carol: Tier1Client;
  let dave: Tier1Client;
  let conv: string;

  beforeEach(async () => {
    w = await receiptWorld();
    [alice, bob, carol, dave] = ["alice", "bob", "carol", "dave"].map((u) => w.as(u)) as [Tier1Client, Tier1Client, Tier1Client, Tier1Client];
    conv = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob", "carol"] })).conversation!.id;
  });
  afterEach(() => w.close());

  const unread = async (c: Tier1Client) => {
    const r = await c.getUnreadCounts({ conversationIds: [conv] });
    return { unread: r.readStates[0]!.unreadCount, mentions: r.readStates[0]!.mentionCount, totalMentions: r.totalMentionCount };
  };

  it("keeps only members as mentions, counts them per user and drops them when the read marker passes", async () => {
    const first = await alice.sendMessage({ conversationId: conv, clientMessageId: "m1", text: "@bob @dave @alice", mentionedUserIds: ["bob", "dave", "alice"] });
    expect((await bob.getMessage({ conversationId: conv, messageId: first.messageId })).message?.mentionedUserIds).toEqual(["bob", "alice"]);
    const second = await alice.sendMessage({ conversationId: conv, clientMessageId: "m2", text: "@bob @carol", mentionedUserIds: ["bob", "carol"] });
    await alice.sendMessage({ conversationId: conv, clientMessageId: "m3", text: "no mention" });
    // A retried send records nothing twice.
    expect((await alice.sendMessage({ conversationId: conv, clientMessageId: "m2", text: "@bob @carol", mentionedUserIds: ["bob", "carol"] })).duplicate).toBe(true);

    expect(await unread(bob)).toEqual({ unread: 3, mentions: 2, totalMentions: 2 });
    expect(await unread(carol)).toEqual({ unread: 3, mentions: 1, totalMentions: 1 });
    // The sender's own mention is read by sending.
    expect(await unread(alice)).toEqual({ unread: 0, mentions: 0, totalMentions: 0 });
    // Conversations with mentions are listed when none are named.
    expect((await bob.getUnreadCounts({})).readStates.map((s) => [s.conversationId, s.mentionCount])).toEqual([[conv, 2]]);

    const afterFirst = await bob.markRead({ conversationId: conv, seq: first.seq });
    expect(afterFirst.readState).toMatchObject({ lastReadSeq: first.seq, unreadCount: 2, mentionCount: 1 });
    expect(await unread(bob)).toEqual({ unread: 2, mentions: 1, totalMentions: 1 });
    const all = await bob.markRead({ conversationId: conv, seq: 1_000n });
    expect(all.readState).toMatchObject({ lastReadSeq: second.seq + 1n, unreadCount: 0, mentionCount: 0 });
    expect(await unread(bob)).toEqual({ unread: 0, mentions: 0, totalMentions: 0 });
    // Never back: a lower seq changes nothing, and the mentions stay read.
    const back = await bob.markRead({ conversationId: conv, seq: first.seq });
    expect(back.readState).toMatchObject({ lastReadSeq: second.seq + 1n, mentionCount: 0 });
    expect(await unread(carol)).toEqual({ unread: 3, mentions: 1, totalMentions: 1 });
  });

  it("counts mentions an edit adds, forgets those of a deleted message, and shows counts in conversation views", async () => {
    const m = await alice.sendMessage({ conversationId: conv, clientMessageId: "m1", text: "hi all" });
    expect(await unread(carol)).toMatchObject({ mentions: 0 });
    await alice.editMessage({ conversationId: conv, messageId: m.messageId, text: "hi @carol", mentionedUserIds: ["carol", "nobody"] });
    expect(await unread(carol)).toMatchObject({ unread: 1, mentions: 1 });
    expect((await carol.getConversation({ conversationId: conv })).readState?.mentionCount).toBe(1);
    expect((await carol.listConversations({})).conversations.find((c) => c.conversation?.id === conv)?.readState?.mentionCount).toBe(1);
    const n = await alice.sendMessage({ conversationId: conv, clientMessageId: "m2", text: "@bob @carol", mentionedUserIds: ["bob", "carol"] });
    expect(await unread(carol)).toMatchObject({ mentions: 2 });
    await alice.deleteMessage({ conversationId: conv, messageId: n.messageId });
    expect(await unread(carol)).toMatchObject({ mentions: 1 });
    expect(await unread(bob)).toMatchObject({ mentions: 0 });
  });

  it("shows the caller's markers and mention count in GetChanges", async () => {
    const m = await alice.sendMessage({ conversationId: conv, clientMessageId: "m1", text: "@bob", mentionedUserIds: ["bob"] });
    await bob.markDelivered({ conversationId: conv, seq: m.seq });
    const { conversations } = await bob.getChanges({});
    // Members start having read the conversation's creation (seq 1).
    expect(conversations.find((c) => c.conversationId === conv)?.readState).toMatchObject({ lastDeliveredSeq: m.seq, lastReadSeq: 1n, mentionCount: 1, unreadCount: 1 });
  });

  it("moves the delivery marker forward only, clamped to the head; a read marker implies delivery", async () => {
    const a = await alice.sendMessage({ conversationId: conv, clientMessageId: "m1", text: "one" });
    const b = await alice.sendMessage({ conversationId: conv, clientMessageId: "m2", text: "two" });
    expect((await bob.markDelivered({ conversationId: conv, seq: a.seq })).readState).toMatchObject({ lastDeliveredSeq: a.seq, lastReadSeq: 1n, unreadCount: 2 });
    expect((await bob.markDelivered({ conversationId: conv, seq: 999n })).readState).toMatchObject({ lastDeliveredSeq: b.seq });
    expect((await bob.markDelivered({ conversationId: conv, seq: a.seq })).readState).toMatchObject({ lastDeliveredSeq: b.seq });
    expect((await carol.markRead({ conversationId: conv, seq: b.seq })).readState).toMatchObject({ lastReadSeq: b.seq, lastDeliveredSeq: b.seq });
    expect((await carol.markDelivered({ conversationId: conv, seq: a.seq })).readState).toMatchObject({ lastReadSeq: b.seq, lastDeliveredSeq: b.seq });
    await expectCode(bob.markDelivered({ conversationId: conv, seq: 0n }), Code.InvalidArgument);
    await expectCode(bob.markDelivered({ conversationId: "not-a-uuid", seq: 1n }), Code.InvalidArgument);
  });

  it("publishes ReadMarkerMoved and DeliveryMarkerMoved on the user-state topic, keyed by tenant and user, only when a marker moved", async () => {
    await expectMarkerRecords(w, 5_000);
  });

  it("lists who read a message (current members who were members then, the sender excluded), paged", async () => {
    await alice.addMembers({ conversationId: conv, userIds: ["dave", "erin"] });
    const m = await alice.sendMessage({ conversationId: conv, clientMessageId: "m1", text: "hi" });
    // frank joins after the message: his read position starts past it, but he never read it.
    await alice.addMembers({ conversationId: conv, userIds: ["frank"] });
    expect((await alice.listReadBy({ conversationId: conv, messageId: m.messageId })).receipts).toEqual([]);
    await bob.markRead({ conversationId: conv, seq: 1_000n });
    await carol.markDelivered({ conversationId: conv, seq: m.seq });
    await dave.markRead({ conversationId: conv, seq: m.seq });
    await w.as("erin").markRead({ conversationId: conv, seq: 1_000n });
    await w.as("erin").leaveConversation({ conversationId: conv });
    const all = await carol.listReadBy({ conversationId: conv, messageId: m.messageId });
    expect(all.receipts.map((r) => [r.userId, r.lastReadSeq >= m.seq, r.conversationId])).toEqual([
      ["bob", true, conv],
      ["dave", true, conv],
    ]);
    expect(all.nextPageToken).toBe("");
    const page1 = await alice.listReadBy({ conversationId: conv, messageId: m.messageId, pageSize: 1 });
    expect(page1.receipts.map((r) => r.userId)).toEqual(["bob"]);
    expect(page1.nextPageToken).not.toBe("");
    const page2 = await alice.listReadBy({ conversationId: conv, messageId: m.messageId, pageSize: 1, pageToken: page1.nextPageToken });
    expect(page2.receipts.map((r) => r.userId)).toEqual(["dave"]);
    expect(page2.nextPageToken).toBe("");
    await expectCode(alice.listReadBy({ conversationId: conv, messageId: m.messageId, pageToken: "forged" }), Code.InvalidArgument);
    await expectCode(alice.listReadBy({ conversationId: conv, messageId: m.messageId, pageSize: 201 }), Code.InvalidArgument);
  });

  it("refuses ListReadBy where receipts are not shared: a CHANNEL and a GROUP over 100 members", async () => {
    const channel = (await alice.createConversation({ type: ConversationType.CHANNEL, memberIds: ["bob"] })).conversation!.id;
    const post = await alice.sendMessage({ conversationId: channel, clientMessageId: "c1", text: "news" });
    await expectCode(bob.listReadBy({ conversationId: channel, messageId: post.messageId }), Code.FailedPrecondition);
    const crowd = Array.from({ length: 100 }, (_, i) => `u${i}`);
    const big = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: crowd })).conversation!.id;
    const said = await alice.sendMessage({ conversationId: big, clientMessageId: "b1", text: "hello all" });
    await expectCode(alice.listReadBy({ conversationId: big, messageId: said.messageId }), Code.FailedPrecondition);
    // One member fewer and receipts are shared again.
    await alice.removeMember({ conversationId: big, userId: "u0" });
    expect((await alice.listReadBy({ conversationId: big, messageId: said.messageId })).receipts).toEqual([]);
  });

  it("shares others' moved markers in GetChanges where receipts are shared, never in a CHANNEL", async () => {
    const m = await alice.sendMessage({ conversationId: conv, clientMessageId: "m1", text: "hi" });
    const channel = (await alice.createConversation({ type: ConversationType.CHANNEL, memberIds: ["bob", "carol"] })).conversation!.id;
    const post = await alice.sendMessage({ conversationId: channel, clientMessageId: "c1", text: "news" });
    w.clock.advance(60_000);
    const cursor = (await bob.getChanges({})).nextCursor;
    w.clock.advance(60_000);
    await carol.markRead({ conversationId: conv, seq: m.seq });
    await carol.markRead({ conversationId: channel, seq: post.seq });
    const changes = await bob.getChanges({ cursor });
    const group = changes.conversations.find((c) => c.conversationId === conv);
    expect(group?.events).toEqual([]);
    expect(group?.receipts.map((r) => [r.userId, r.lastReadSeq, r.lastDeliveredSeq])).toEqual([["carol", m.seq, m.seq]]);
    expect(changes.conversations.find((c) => c.conversationId === channel)?.receipts ?? []).toEqual([]);
    // Once past the cursor's overlap, carol's unchanged markers are not repeated.
    w.clock.advance(60_000);
    const again = await bob.getChanges({ cursor: changes.nextCursor });
    w.clock.advance(60_000);
    const later = await bob.getChanges({ cursor: again.nextCursor });
    expect(later.conversations.find((c) => c.conversationId === conv)?.receipts ?? []).toEqual([]);
  });

  it("answers NOT_FOUND to non-members and other tenants on every new RPC (BOLA probes)", async () => {
    const m = await alice.sendMessage({ conversationId: conv, clientMessageId: "m1", text: "hi" });
    const mallory = w.as("bob", freshTenantScope().tenantId); // same user id, another tenant
    for (const outsider of [dave, mallory]) {
      await expectCode(outsider.markDelivered({ conversationId: conv, seq: 1n }), Code.NotFound);
      await expectCode(outsider.markRead({ conversationId: conv, seq: 1n }), Code.NotFound);
      await expectCode(outsider.listReadBy({ conversationId: conv, messageId: m.messageId }), Code.NotFound);
      const own = (await outsider.createConversation({ type: ConversationType.GROUP, memberIds: ["zed"] })).conversation!.id;
      await expectCode(outsider.forwardMessage({ conversationId: conv, messageId: m.messageId, targetConversationId: own, clientMessageId: "f1" }), Code.NotFound);
    }
    // A message id of another conversation is not found in this one.
    const other = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
    const elsewhere = await alice.sendMessage({ conversationId: other, clientMessageId: "o1", text: "elsewhere" });
    await expectCode(bob.listReadBy({ conversationId: conv, messageId: elsewhere.messageId }), Code.NotFound);
    await expectCode(bob.listReadBy({ conversationId: conv, messageId: randomUUID() }), Code.NotFound);
    // Nothing of the probes reached the real markers.
    expect((await bob.getUnreadCounts({ conversationIds: [conv] })).readStates[0]).toMatchObject({ lastReadSeq: 1n, lastDeliveredSeq: 1n });
  });
});

describe("ForwardMessage (tier 1: the class)", () => {
  let w: ReceiptWorld;
  let alice: Tier1Client;
  let bob: Tier1Client;
  let carol: Tier1Client;
  let source: string;
  let target: string;
  let msg: { messageId: string; seq: bigint };

  beforeEach(async () => {
    w = await receiptWorld({ sendRate: { capacity: 8, refillPerSec: 0.001 } });
    [alice, bob, carol] = ["alice", "bob", "carol"].map((u) => w.as(u)) as [Tier1Client, Tier1Client, Tier1Client];
    source = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
    target = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["carol"] })).conversation!.id;
    msg = await bob.sendMessage({ conversationId: source, clientMessageId: "s1", text: "worth sharing @alice", mentionedUserIds: ["alice"], custom: { fields: {} } });
  });
  afterEach(() => w.close());

  it("copies the message (latest body) into the target as a message of the caller with forwarded_from, through the send path", async () => {
    await bob.editMessage({ conversationId: source, messageId: msg.messageId, text: "edited and worth sharing" });
    const fwd = await alice.forwardMessage({ conversationId: source, messageId: msg.messageId, targetConversationId: target, clientMessageId: "f1" });
    expect(fwd.duplicate).toBe(false);
    const copy = (await carol.getMessage({ conversationId: target, messageId: fwd.messageId })).message!;
    expect(copy).toMatchObject({ senderId: "alice", seq: fwd.seq, text: "edited and worth sharing", mentionedUserIds: [], clientMessageId: "f1" });
    expect(copy.forwardedFrom).toMatchObject({ conversationId: source, messageId: msg.messageId, senderId: "bob" });
    // A seq'd MessageCreated event in the target, counted as unread for carol.
    const { events } = await carol.sync({ conversationId: target, afterSeq: fwd.seq - 1n });
    expect(events.map((e) => [e.payload.case, e.seq])).toEqual([["messageCreated", fwd.seq]]);
    expect((await carol.getUnreadCounts({ conversationIds: [target] })).readStates[0]?.unreadCount).toBe(1);
    // Idempotent per client_message_id: the same forward is the original ack; another payload is ALREADY_EXISTS.
    const again = await alice.forwardMessage({ conversationId: source, messageId: msg.messageId, targetConversationId: target, clientMessageId: "f1" });
    expect(again).toMatchObject({ messageId: fwd.messageId, seq: fwd.seq, duplicate: true });
    const other = await bob.sendMessage({ conversationId: source, clientMessageId: "s2", text: "another" });
    await expectCode(alice.forwardMessage({ conversationId: source, messageId: other.messageId, targetConversationId: target, clientMessageId: "f1" }), Code.AlreadyExists);
    await expectCode(alice.sendMessage({ conversationId: target, clientMessageId: "f1", text: "plain" }), Code.AlreadyExists);
  });

  it("refuses deleted sources, unreadable sources and targets the caller may not send to", async () => {
    // bob cannot read the target; carol cannot read the source.
    await expectCode(carol.forwardMessage({ conversationId: source, messageId: msg.messageId, targetConversationId: target, clientMessageId: "f1" }), Code.NotFound);
    await expectCode(bob.forwardMessage({ conversationId: source, messageId: msg.messageId, targetConversationId: target, clientMessageId: "f1" }), Code.NotFound);
    await expectCode(alice.forwardMessage({ conversationId: source, messageId: randomUUID(), targetConversationId: target, clientMessageId: "f1" }), Code.NotFound);
    const channel = (await carol.createConversation({ type: ConversationType.CHANNEL, memberIds: ["alice"] })).conversation!.id;
    await expectCode(alice.forwardMessage({ conversationId: source, messageId: msg.messageId, targetConversationId: channel, clientMessageId: "f1" }), Code.PermissionDenied);
    await expectCode(alice.forwardMessage({ conversationId: source, messageId: msg.messageId, targetConversationId: target, clientMessageId: "bad id" }), Code.InvalidArgument);
    await expectCode(alice.forwardMessage({ conversationId: source, messageId: msg.messageId, targetConversationId: "nope", clientMessageId: "f1" }), Code.InvalidArgument);
    await bob.deleteMessage({ conversationId: source, messageId: msg.messageId });
    await expectCode(alice.forwardMessage({ conversationId: source, messageId: msg.messageId, targetConversationId: target, clientMessageId: "f2" }), Code.FailedPrecondition);
    expect((await carol.sync({ conversationId: target })).events.filter((e) => e.payload.case === "messageCreated")).toEqual([]);
  });

  it("shares the sender's send rate limit", async () => {
    const codes: string[] = [];
    for (let i = 0; i < 10; i++) {
      try {
        await alice.forwardMessage({ conversationId: source, messageId: msg.messageId, targetConversationId: target, clientMessageId: `f${i}` });
        codes.push("ok");
      } catch (err) {
        codes.push(Code[(err as { code: Code }).code]);
      }
    }
    expect(codes.slice(-2)).toEqual(["ResourceExhausted", "ResourceExhausted"]);
    expect(codes.filter((c) => c === "ok").length).toBeLessThanOrEqual(8);
  });
});

const brokers = infraEnv("CAAS_KAFKA_BROKERS");
const registry = infraEnv("CAAS_SCHEMA_REGISTRY_URL");
describe.skipIf(!brokers || !registry)("user-state records on Kafka with Schema Registry (cluster mode's bus)", () => {
  it("publishes the marker moves as UserStateEventEnvelope records keyed by tenant and user", async () => {
    const w = await receiptWorld(undefined, () =>
      createKafkaEventBus({
        brokers: brokers!.split(","),
        schemaRegistryUrl: registry!,
        clientId: "chat-receipts-test",
        logger,
        // A topic of this test alone, so reading from the earliest record sees only its own.
        prefix: `${RUN_PREFIX}.${randomUUID().slice(0, 8)}.`,
        partitions: 3,
      }),
    );
    try {
      await expectMarkerRecords(w, 60_000);
    } finally {
      await w.close();
    }
  }, 120_000);
});
