import { clone, create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import Database from "better-sqlite3";
import { EventSchema, type Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import { EncryptedContentSchema } from "@caas/gen/caas/chat/v1/encrypted_pb.js";
import { MessageSchema } from "@caas/gen/caas/chat/v1/message_pb.js";
import { ChatEventEnvelopeSchema } from "@caas/gen/caas/events/v1/chat_events_pb.js";
import { createLogger } from "@caas/shared/logger";
import { createMemoryPositionStore } from "@caas/shared/eventing/sequenced-consumer";
import { FakeClock } from "@caas/shared/clock";
import { PageTokenCodec } from "@caas/shared/page-token";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { freshTenantScope } from "@caas/shared/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMemoryCache } from "../src/adapters/cache-memory.js";
import { createSqliteSearchIndex } from "../src/adapters/search-index-sqlite.js";
import { MessageIndexer } from "../src/message-indexer.js";
import type { ConversationAccess, ReadableConversation } from "../src/ports/conversation-access.js";
import type { SearchIndex } from "../src/ports/search-index.js";
import { ACCESS_ALLOWED_TTL_MS, ACCESS_DENIED_TTL_MS, SearchCache } from "../src/search-cache.js";

const T0 = Date.UTC(2026, 0, 1);
const C = "c1";

/** A conversation log as chat stores it: events by seq, bodies redacted in place by a delete. */
class Log {
  readonly events: Event[] = [];
  add(payload: Event["payload"]): Event {
    const seq = BigInt(this.events.length + 1);
    const e = create(EventSchema, { conversationId: C, seq, eventId: `e${seq}`, actorId: "ann", createTime: timestampFromMs(T0 + Number(seq)), payload });
    this.events.push(e);
    return e;
  }
  created(id: string, text: string): Event {
    const seq = BigInt(this.events.length + 1);
    return this.add({
      case: "messageCreated",
      value: { $typeName: "caas.chat.v1.MessageCreated", message: create(MessageSchema, { id, conversationId: C, seq, senderId: "ann", text, createTime: timestampFromMs(T0 + Number(seq)) }) },
    });
  }
  edited(id: string, messageSeq: number, text: string): Event {
    return this.add({
      case: "messageEdited",
      value: {
        $typeName: "caas.chat.v1.MessageEdited",
        messageId: id,
        text,
        mentionedUserIds: [],
        messageSeq: BigInt(messageSeq),
        messageAttachmentCount: 0,
        senderId: "ann",
        messageCreateTime: timestampFromMs(T0 + messageSeq),
      },
    });
  }
  deleted(id: string, messageSeq: number): Event {
    const e = this.add({
      case: "messageDeleted",
      value: {
        $typeName: "caas.chat.v1.MessageDeleted",
        messageId: id,
        mediaIds: [],
        messageSeq: BigInt(messageSeq),
        senderId: "ann",
        messageCreateTime: timestampFromMs(T0 + messageSeq),
        expired: false,
      },
    });
    // Chat redacts the message's earlier bodies in its store.
    for (const old of this.events)
      if (old !== e && ((old.payload.case === "messageCreated" && old.payload.value.message?.id === id) || (old.payload.case === "messageEdited" && old.payload.value.messageId === id)))
        old.redacted = true;
    return e;
  }
}

describe("MessageIndexer (real SQLite index, a chat log held in memory)", () => {
  let index: SearchIndex;
  let db: Database.Database;
  let scope: TenantScope;
  let log: Log;
  let fetches: number;
  const access: ConversationAccess = { listReadable: async () => [], check: async () => [] };

  beforeEach(async () => {
    db = new Database(":memory:");
    index = await createSqliteSearchIndex({ db, clock: new FakeClock(), pageTokens: new PageTokenCodec(Buffer.from("indexer-test-secret-0123")) });
    scope = freshTenantScope();
    log = new Log();
    fetches = 0;
  });
  afterEach(async () => {
    await index.close();
    db.close();
  });

  const indexer = () =>
    new MessageIndexer({
      index,
      cache: new SearchCache(createMemoryCache(), access),
      positions: createMemoryPositionStore(),
      logger: createLogger({ service: "search-test", instance: "test", level: "silent" }),
      fetchAfter: async (_t, _c, after, limit) => {
        fetches++;
        // As SyncInternal: the stored (possibly redacted) form, cloned.
        return log.events
          .filter((e) => Number(e.seq) > after)
          .slice(0, limit)
          .map((e) => clone(EventSchema, e));
      },
    });
  const deliver = (ix: MessageIndexer, e: Event) => ix.handle(create(ChatEventEnvelopeSchema, { tenantId: scope.tenantId, conversationId: C, payload: { case: "event", value: e } }));
  const found = async (q: string) => (await index.search(scope, { query: q, conversationIds: [C], pageSize: 10 })).hits.map((h) => h.messageId);

  it("applies events in seq order and drops redeliveries", async () => {
    const ix = indexer();
    const a = log.created("m1", "alpha one");
    const b = log.created("m2", "alpha two");
    expect(await deliver(ix, a)).toBe("applied");
    expect(await deliver(ix, b)).toBe("applied");
    expect(await deliver(ix, a)).toBe("duplicate");
    expect((await found("alpha")).sort()).toEqual(["m1", "m2"]);
    expect(fetches).toBe(0);
  });

  it("fills a gap from the log before applying the event that revealed it", async () => {
    const ix = indexer();
    log.created("m1", "gamma one");
    log.edited("m1", 1, "delta one");
    const third = log.created("m3", "gamma three");
    expect(await deliver(ix, third)).toBe("gap-filled");
    expect(fetches).toBe(1);
    expect(await found("gamma")).toEqual(["m3"]);
    expect(await found("delta")).toEqual(["m1"]);
    // The missed records arriving late change nothing.
    expect(await deliver(ix, log.events[0]!)).toBe("duplicate");
  });

  const envelopeOf = (e: Event) => create(ChatEventEnvelopeSchema, { tenantId: scope.tenantId, conversationId: C, payload: { case: "event", value: e } });

  it("applies a batch in log order with one index write: redeliveries dropped, a gap filled, positions moved after the write", async () => {
    let writes = 0;
    const real = index;
    index = { ...real, index: async (sc, docs, o) => (writes++, real.index(sc, docs, o)) };
    const ix = indexer();
    const a = log.created("m1", "first words");
    const edit = log.edited("m1", 1, "second words");
    const b = log.created("m2", "other words");
    log.created("m3", "missed words");
    const e = log.created("m4", "last words");
    const outcomes = await ix.handleBatch([a, edit, b, b, a, e].map(envelopeOf));
    expect(outcomes).toEqual(["applied", "applied", "applied", "duplicate", "duplicate", "gap-filled"]);
    expect(writes).toBe(1);
    expect(fetches).toBe(1);
    expect((await found("words")).sort()).toEqual(["m1", "m2", "m3", "m4"]);
    expect(await found("first")).toEqual([]);
    expect((await ix.position(scope.tenantId, C)).seq).toBe(5);
    index = real;
  });

  it("moves no position when a batch's write fails: the redelivered batch applies it", async () => {
    const real = index;
    let fail = true;
    index = {
      ...real,
      index: async (sc, docs, o) => {
        if (fail) throw new Error("index unavailable");
        return real.index(sc, docs, o);
      },
    };
    const ix = indexer();
    const batch = [log.created("m1", "durable words"), log.created("m2", "durable too")].map(envelopeOf);
    await expect(ix.handleBatch(batch)).rejects.toThrow(/unavailable/);
    expect((await ix.position(scope.tenantId, C)).seq).toBe(0);
    fail = false;
    expect(await ix.handleBatch(batch)).toEqual(["applied", "applied"]);
    expect((await found("durable")).sort()).toEqual(["m1", "m2"]);
    index = real;
  });

  it("an edit replaces the text; a delete leaves a tombstone no replayed create or edit revives", async () => {
    const ix = indexer();
    const created = clone(EventSchema, log.created("m1", "original words"));
    const edit = clone(EventSchema, log.edited("m1", 1, "edited words"));
    await deliver(ix, created);
    await deliver(ix, edit);
    expect(await found("edited")).toEqual(["m1"]);
    expect(await found("original")).toEqual([]);
    await deliver(ix, log.deleted("m1", 1));
    expect(await found("words")).toEqual([]);
    // A restarted consumer (positions lost) gets the original records again, as the bus may
    // redeliver them unredacted: the tombstone's version (the delete's seq) refuses both.
    const again = indexer();
    expect(await deliver(again, created)).toBe("applied");
    expect(await deliver(again, edit)).toBe("applied");
    expect(await found("original")).toEqual([]);
    expect(await found("edited")).toEqual([]);
  });

  it("never indexes an end-to-end encrypted message or edit, and goes on with the next events", async () => {
    const ix = indexer();
    const encrypted = { scheme: { case: "mlsMessage" as const, value: new Uint8Array([1, 2, 3]) } };
    // Text beside ciphertext never comes from chat; here it shows the indexer skips the event itself.
    const e = log.created("m1", "hiddenword");
    if (e.payload.case === "messageCreated") e.payload.value.message!.encrypted = create(EncryptedContentSchema, encrypted);
    const edit = log.edited("m1", 1, "hiddenedit");
    if (edit.payload.case === "messageEdited") edit.payload.value.encrypted = create(EncryptedContentSchema, encrypted);
    expect(await deliver(ix, e)).toBe("applied");
    expect(await deliver(ix, edit)).toBe("applied");
    expect(await deliver(ix, log.created("m3", "visibleword"))).toBe("applied");
    expect(await found("hiddenword")).toEqual([]);
    expect(await found("hiddenedit")).toEqual([]);
    expect(await found("visibleword")).toEqual(["m3"]);
  });

  it("replays a whole conversation from the log into an index that lost it, and reports its position", async () => {
    const ix = indexer();
    log.created("m1", "kestrel one");
    log.created("m2", "kestrel two");
    log.deleted("m1", 1);
    // Three states written: the redacted create (a tombstone), m2, the delete's newer tombstone.
    expect(await ix.replay(scope.tenantId, C)).toEqual({ events: 3, indexed: 3 });
    expect(await found("kestrel")).toEqual(["m2"]);
    // Again: nothing new to write.
    expect(await ix.replay(scope.tenantId, C)).toEqual({ events: 3, indexed: 0 });
    // A replay is outside the consumer's positions; delivering advances them.
    expect((await ix.position(scope.tenantId, C)).seq).toBe(0);
    await deliver(ix, log.events[2]!);
    const at = await ix.position(scope.tenantId, C);
    expect(at.seq).toBe(3);
    expect(at.appliedAtMs).toBeGreaterThan(0);
  });

  it("indexes the redacted form when a gap fill reads a message deleted since", async () => {
    const ix = indexer();
    log.created("m1", "secret plan");
    log.created("m2", "public plan");
    log.deleted("m1", 1);
    const last = log.created("m4", "later plan");
    await deliver(ix, last);
    expect((await found("plan")).sort()).toEqual(["m2", "m4"]);
    expect(await found("secret")).toEqual([]);
  });
});

describe("SearchCache", () => {
  const scope = freshTenantScope();
  let clock: FakeClock;
  let asked: { list: number; check: number };
  let readable: ReadableConversation[];
  let cache: SearchCache;
  beforeEach(() => {
    clock = new FakeClock();
    asked = { list: 0, check: 0 };
    readable = [{ conversationId: "c1", title: "One", maxSeq: 0 }];
    const access: ConversationAccess = {
      listReadable: async () => {
        asked.list++;
        return readable;
      },
      check: async (_s, _u, ids) => {
        asked.check++;
        return readable.filter((c) => ids.includes(c.conversationId));
      },
    };
    cache = new SearchCache(createMemoryCache({ clock }), access);
  });

  it("trusts an allowed list for 300 s and a refusal for 60 s, unless a membership event comes first", async () => {
    expect(await cache.readable(scope, "u1")).toEqual(readable);
    await cache.readable(scope, "u1");
    expect(asked.list).toBe(1);
    clock.advance(ACCESS_ALLOWED_TTL_MS);
    await cache.readable(scope, "u1");
    expect(asked.list).toBe(2);

    expect((await cache.resolve(scope, "u1", ["c2"])).denied).toEqual(["c2"]);
    expect((await cache.resolve(scope, "u1", ["c2"])).denied).toEqual(["c2"]);
    expect(asked.check).toBe(1);
    clock.advance(ACCESS_DENIED_TTL_MS);
    await cache.resolve(scope, "u1", ["c2"]);
    expect(asked.check).toBe(2);

    // u1 joins c2: the event drops the list and the refusal at once.
    readable = [...readable, { conversationId: "c2", title: "Two", maxSeq: 0 }];
    await cache.membershipChanged(scope, "u1", "c2");
    expect((await cache.resolve(scope, "u1", ["c2"])).allowed.map((c) => c.conversationId)).toEqual(["c2"]);
    expect(asked.list).toBe(3);
    // Another user's cached list is untouched by it.
    await cache.readable(scope, "u2");
    await cache.membershipChanged(scope, "u1", "c1");
    await cache.readable(scope, "u2");
    expect(asked.list).toBe(4);
  });

  it("keeps a page until a change in a covered conversation", async () => {
    let runs = 0;
    const run = async () => ++runs;
    expect(await cache.page(scope, "u1", { q: "x" }, ["c1", "c2"], run)).toBe(1);
    expect(await cache.page(scope, "u1", { q: "x" }, ["c1", "c2"], run)).toBe(1);
    await cache.contentChanged(scope, "c3");
    expect(await cache.page(scope, "u1", { q: "x" }, ["c1", "c2"], run)).toBe(1);
    await cache.contentChanged(scope, "c2");
    expect(await cache.page(scope, "u1", { q: "x" }, ["c1", "c2"], run)).toBe(2);
    expect(await cache.page(scope, "u2", { q: "x" }, ["c1", "c2"], run)).toBe(3);
    clock.advance(60_000);
    expect(await cache.page(scope, "u1", { q: "x" }, ["c1", "c2"], run)).toBe(4);
  });
});
