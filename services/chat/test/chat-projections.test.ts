import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { CHAT_EVENTS } from "@caas/shared/eventing/topics";
import { connectMongo } from "@caas/shared/mongo";
import { createLogger } from "@caas/shared/logger";
import { createSqliteEventBus } from "@caas/shared/eventing/sqlite";
import { FakeClock, systemClock } from "@caas/shared/clock";
import { OutboxRelay } from "@caas/shared/eventing/outbox-relay";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { freshTenantScope, infraEnv, RUN_PREFIX } from "@caas/shared/testing";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ChatBackend } from "../src/chat-stores.js";
import { seqOfMessageId } from "../src/domain/message-ids.js";
import { ChatProjector, PROJECTION_VERSION } from "../src/projections/chat-projector.js";
import { startProjector } from "../src/projections/projector-runner.js";
import { chatEventRecord, CommitCorrelations } from "../src/relay.js";
import { asPrincipal, openInstance, userPrincipal, type Instance, type Tier1Client } from "./support/harness.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-proj-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The chat projections (ADR 0021) on one backend: reaction counts, thread summaries and the last
 * message per conversation equal what the commit path left after a consumer restart mid-stream,
 * after a wipe and a full replay, and after a version-triggered rebuild.
 */
function projectionSuite(name: string, backend: () => ChatBackend): void {
  describe(`chat projections: ${name}`, () => {
    const clock = new FakeClock();
    const secret = randomBytes(32);
    let where: ChatBackend;
    let inst: Instance;
    let scope: TenantScope;
    let conv: string;
    let quiet: string;
    const as = (user: string): Tier1Client => asPrincipal(inst.impl, userPrincipal(scope.tenantId, user));

    beforeEach(async () => {
      where = backend();
      inst = await openInstance(where, { clock, secret });
      scope = freshTenantScope();
      const [alice, bob, carol] = ["alice", "bob", "carol"].map(as) as [Tier1Client, Tier1Client, Tier1Client];
      quiet = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["carol"] })).conversation!.id;
      conv = (await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob", "carol"] })).conversation!.id;
      const send = async (who: Tier1Client, text: string, extra: { threadParentId?: string; conversationId?: string } = {}) => {
        clock.advance(1000);
        return who.sendMessage({ conversationId: conv, clientMessageId: randomUUID(), text, ...extra });
      };
      await send(alice, "in the quiet one", { conversationId: quiet });
      const root = (await send(alice, "root")).messageId;
      const ids = { conversationId: conv, messageId: root };
      await bob.addReaction({ ...ids, reaction: "👍" });
      await carol.addReaction({ ...ids, reaction: "👍" });
      await carol.addReaction({ ...ids, reaction: ":tada:" });
      await carol.removeReaction({ ...ids, reaction: "👍" });
      await alice.pinMessage(ids);
      await send(bob, "reply 1", { threadParentId: root });
      const gone = (await send(carol, "reply 2", { threadParentId: root })).messageId;
      await carol.deleteMessage({ conversationId: conv, messageId: gone });
      await send(bob, "reply 3", { threadParentId: root });
      await send(bob, "second");
      const last = (await send(carol, "third")).messageId;
      await carol.deleteMessage({ conversationId: conv, messageId: last });
      await send(alice, "a late reply", { threadParentId: root });
    });
    afterEach(() => inst.close());

    /** What readers see of the projections. */
    const snapshot = async () => {
      const carol = as("carol");
      const { messages } = await carol.listMessages({ conversationId: conv, pageSize: 200 });
      const { conversations } = await carol.listConversations({});
      return {
        messages: messages.map((m) => ({ id: m.id, text: m.text, deleted: m.deleted, reactions: m.reactions, pinned: m.pinned, thread: m.thread })),
        conversations: conversations.map((c) => ({ id: c.conversation?.id, lastMessage: c.conversation?.lastMessage, activity: c.conversation?.lastActivityTime })),
      };
    };
    const wipe = async () => {
      await inst.stores.marks.clear(scope, conv);
      await inst.stores.conversations.resetLastMessage(scope, conv);
      await inst.stores.projections.reset(scope, conv);
    };
    const head = async () => (await inst.stores.events.head(scope, conv)).seq;

    it("has the projections the scenario implies, and a wipe really empties them", async () => {
      const before = await snapshot();
      const root = before.messages.find((m) => m.text === "root")!;
      expect(root.reactions.map((r) => [r.reaction, r.count, r.reacted])).toEqual([
        [":tada:", 1, true],
        ["👍", 1, false],
      ]);
      expect([root.pinned, root.thread?.replyCount, root.thread?.participantIds]).toEqual([true, 4, ["alice", "bob", "carol"]]);
      expect(before.conversations.map((c) => c.id)).toEqual([conv, quiet]);
      expect([before.conversations[0]!.lastMessage?.deleted, before.conversations[0]!.lastMessage?.textPreview]).toEqual([true, ""]);
      await wipe();
      const after = await snapshot();
      expect(after.messages.find((m) => m.text === "root")?.thread).toBeUndefined();
      expect(after.conversations.find((c) => c.id === conv)?.lastMessage).toBeUndefined();
      expect(after).not.toEqual(before);
    });

    it("a consumer restarted mid-stream (on reopened stores) drops duplicates, fills gaps and ends where the commit path was", async () => {
      const expected = await snapshot();
      const top = await head();
      await wipe();
      const ref = (seq: number) => ({ tenantId: scope.tenantId, conversationId: conv, seq });
      const first = new ChatProjector(inst.stores);
      expect(await first.handle(ref(1))).toBe("applied");
      expect(await first.handle(ref(1))).toBe("duplicate");
      expect(await first.handle(ref(4))).toBe("gap-filled");
      expect(await first.handle(ref(5))).toBe("applied");
      const half = Math.floor(top / 2);
      for (let seq = 6; seq <= half; seq++) await first.handle(ref(seq));
      expect(await inst.stores.projections.position(scope, conv)).toBe(half);

      // The process goes away; a new one opens the same database and carries on.
      await inst.close();
      inst = await openInstance(where, { clock, secret });
      const second = new ChatProjector(inst.stores);
      expect(await inst.stores.projections.position(scope, conv)).toBe(half);
      expect(await second.handle(ref(half - 1))).toBe("duplicate");
      expect(await second.handle(ref(half))).toBe("duplicate");
      expect(await second.handle(ref(half + 3))).toBe("gap-filled");
      for (let seq = half + 4; seq <= top; seq++) expect(await second.handle(ref(seq))).toBe("applied");
      await expect(second.handle(ref(top + 1))).rejects.toThrow(/not in the log yet/);
      expect(await snapshot()).toEqual(expected);
      expect(await inst.stores.projections.position(scope, conv)).toBe(top);
    });

    it("a projector writing its positions behind stores them at flush, reads the stored one before a gap, and never moves it back", async () => {
      const expected = await snapshot();
      const top = await head();
      expect(top).toBeGreaterThanOrEqual(12);
      await wipe();
      const ref = (seq: number) => ({ tenantId: scope.tenantId, conversationId: conv, seq });
      const stored = () => inst.stores.projections.position(scope, conv);
      // The gap fills of `a` (pages; a single event is read by `read(seq - 1, 1)`) show where each fill started.
      const fills: number[] = [];
      const events = inst.stores.events;
      const watched = { ...inst.stores, events: { ...events, read: (s: TenantScope, c: string, after: number, limit: number) => (limit > 1 && fills.push(after), events.read(s, c, after, limit)) } };
      const a = new ChatProjector(watched, undefined, undefined, { writeBehindMs: 60_000 });
      const b = new ChatProjector(inst.stores, undefined, undefined, { writeBehindMs: 60_000 });
      for (let seq = 1; seq <= 3; seq++) expect(await a.handle(ref(seq))).toBe("applied");
      // The first position creates the row at once; the later ones wait for the flush.
      expect(await stored()).toBe(1);
      await a.flush();
      expect(await stored()).toBe(3);
      // Another instance had the conversation for a while and wrote its position.
      for (let seq = 4; seq <= 9; seq++) expect(await b.handle(ref(seq))).toBe("applied");
      await b.flush();
      expect(await stored()).toBe(9);
      // Back on `a` (3 in its memory): the gap is filled from the stored 9, not replayed from 3.
      expect(await a.handle(ref(11))).toBe("gap-filled");
      expect(fills).toEqual([9]);
      expect(await a.handle(ref(5))).toBe("duplicate");
      expect(await b.handle(ref(10))).toBe("applied");
      await a.flush();
      await b.flush();
      expect(await stored()).toBe(11);
      for (let seq = 12; seq <= top; seq++) expect(await a.handle(ref(seq))).toBe("applied");
      await a.flush();
      expect(await stored()).toBe(top);
      expect(await snapshot()).toEqual(expected);
    });

    it("a position written behind does not bring back a row the tenant's erasure removed", async () => {
      await wipe();
      const ref = (seq: number) => ({ tenantId: scope.tenantId, conversationId: conv, seq });
      const stored = () => inst.stores.projections.position(scope, conv);
      const a = new ChatProjector(inst.stores, undefined, undefined, { writeBehindMs: 60_000 });
      for (let seq = 1; seq <= 3; seq++) expect(await a.handle(ref(seq))).toBe("applied");
      await a.flush();
      expect(await stored()).toBe(3);
      // Events applied, their position waiting in memory; then the tenant is deleted and its rows erased.
      for (let seq = 4; seq <= 6; seq++) expect(await a.handle(ref(seq))).toBe("applied");
      for (let more = true; more;) more = (await inst.stores.tenantRows.eraseTenantRows(scope.tenantId, 500)).more;
      await a.flush();
      expect(await stored()).toBe(0);
      expect((await inst.stores.tenantRows.eraseTenantRows(scope.tenantId, 500)).removed).toBe(0);
    });

    it("a wipe and a full replay rebuild the same projections, and repair a corrupted one", async () => {
      const expected = await snapshot();
      const rootSeq = seqOfMessageId(expected.messages.find((m) => m.text === "root")!.id)!;
      // A mark no event set (a bug, a hand edit): the rebuild removes it.
      await inst.stores.marks.apply(scope, { conversationId: conv, messageSeq: rootSeq, kind: "reaction", key: "🐛", userId: "ghost", seq: 10_000, present: true, actorId: "ghost", timeMs: 1 });
      expect((await snapshot()).messages.find((m) => m.text === "root")!.reactions.map((r) => r.reaction)).toContain("🐛");
      const projector = new ChatProjector(inst.stores);
      expect(await projector.rebuild(scope, conv)).toBe(await head());
      expect(await snapshot()).toEqual(expected);
      await wipe();
      expect(await projector.rebuild(scope, conv)).toBe(await head());
      expect(await snapshot()).toEqual(expected);
    });

    it("rebuilds everything once when the stored projection version is older, then not again", async () => {
      const expected = await snapshot();
      await wipe();
      await inst.stores.marks.clear(scope, quiet);
      await inst.stores.conversations.resetLastMessage(scope, quiet);
      const projector = new ChatProjector(inst.stores);
      expect(await inst.stores.projections.version()).toBe(0);
      expect(await projector.rebuildIfStale()).toBeGreaterThanOrEqual(2);
      expect(await inst.stores.projections.version()).toBe(PROJECTION_VERSION);
      expect(await snapshot()).toEqual(expected);
      expect(await projector.rebuildIfStale()).toBe(0);
    });

    it("consumes caas.chat.events.v1 from the bus: published events rebuild a wiped projection", async () => {
      const expected = await snapshot();
      await wipe();
      // Current version: only the consumer (not a start-up rebuild) can restore the projections.
      await inst.stores.projections.setVersion(PROJECTION_VERSION);
      const logger = createLogger({ service: "chat", instance: "test", level: "silent" });
      const bus = await createSqliteEventBus({ path: join(dir, `bus-${randomUUID()}.db`), clock: systemClock, logger });
      const relay = new OutboxRelay({ store: inst.stores.events, bus, topic: CHAT_EVENTS, toRecord: chatEventRecord(new CommitCorrelations()), clock: systemClock, logger });
      const running = startProjector({ stores: inst.stores, bus, logger });
      try {
        await relay.flush();
        const top = await head();
        const deadline = Date.now() + 20_000;
        while ((await inst.stores.projections.position(scope, conv)) < top && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        expect(await inst.stores.projections.position(scope, conv)).toBe(top);
        expect(await snapshot()).toEqual(expected);
      } finally {
        await running.stop();
        await relay.stop();
        await bus.close();
      }
    });

    it("keeps positions per tenant and conversation, only moving forward", async () => {
      const p = inst.stores.projections;
      await p.advance(scope, conv, 5);
      await p.advance(scope, conv, 3);
      expect(await p.position(scope, conv)).toBe(5);
      expect(await p.position(freshTenantScope(), conv)).toBe(0);
      expect(await p.position(scope, quiet)).toBe(0);
      await p.reset(scope, conv);
      expect(await p.position(scope, conv)).toBe(0);
      const listed = await p.conversations(undefined, 1000);
      expect(listed).toEqual(
        expect.arrayContaining([
          { tenantId: scope.tenantId, conversationId: conv },
          { tenantId: scope.tenantId, conversationId: quiet },
        ]),
      );
      const firstTwo = await p.conversations(undefined, 1);
      expect(await p.conversations(firstTwo[0], 1000)).toEqual(listed.slice(1));
    });
  });
}

projectionSuite("sqlite", () => ({ kind: "sqlite", path: join(dir, `chat-${randomUUID()}.db`) }));

const mongoUrl = infraEnv("CAAS_MONGO_URL");
const dbName = `${RUN_PREFIX}_chat_projections`;
describe.skipIf(!mongoUrl)("on the MongoDB protocol (FerretDB here)", () => {
  afterAll(async () => {
    const conn = await connectMongo(mongoUrl!, dbName);
    await conn.client.db(dbName).dropDatabase();
    await conn.close();
  });
  projectionSuite("mongodb protocol", () => ({
    kind: "mongo",
    url: mongoUrl!,
    database: dbName,
    appName: "chat-projections-test",
    collectionPrefix: `t${randomUUID().replace(/-/g, "").slice(0, 10)}_`,
  }));
});
