import { checkName, tenantOf } from "../adapters/checks.js";
import { isMongoDuplicateKeyError, type MongoDb } from "../adapters/mongo-client.js";
import { mongoMigrationTarget } from "../adapters/mongo-migrations.js";
import type { Clock } from "../clock.js";
import { NotFoundError, UnavailableError } from "../errors.js";
import { runMigrations, type MigrationResult } from "../migrations.js";
import { docId, eventLogMongoMigrations, insertedBeforeConflict, sleep, toEvent, type EventDoc } from "./event-log-mongo-docs.js";
import { checkAppend, checkAppendBatch, checkLimit, checkRedactBatch, checkSeq } from "./event-log-checks.js";
export { eventLogMongoMigrations } from "./event-log-mongo-docs.js";
import { abandonedAppend, type AppendInput, type AppendResult, type EventKey, type EventLogStore, type LogEvent, type LogHead } from "./event-log-store.js";

export interface MongoEventLogStoreOptions {
  /** A database of a client shared with other adapters; its owner closes the client. */
  db: MongoDb;
  /** Starts the collection names: `<prefix>event_log` and `<prefix>event_log_migrations`. Default "". */
  collectionPrefix?: string;
  clock: Clock;
  /** Told what the migration run did (for the startup log). */
  onMigrated?: (result: MigrationResult) => void;
  /** Insert attempts per append before giving up with UNAVAILABLE. Default 64. */
  maxAttempts?: number;
}

/** Conversations whose last known head an instance remembers (a hint, see below). */
const HEAD_HINTS = 10_000;
/** Redactions of one `redactBatch` in flight at once. */
const REDACT_LANES = 8;
/** Point reads walking forward from a hint before a sorted query is cheaper. */
const HINT_STEPS = 4;

/**
 * The cluster-mode `EventLogStore`: one document per event in a MongoDB collection (a replica
 * set; FerretDB in tests). `append` inserts head+1 with write concern majority; the unique
 * indexes decide between concurrent writers, so any number of processes may append to one
 * conversation and no transaction is needed.
 *
 * Every read uses read concern majority. That is what keeps seqs dense across a replica-set
 * failover: a head read at "local" could see an event that is later rolled back, and the next
 * insert would then leave a gap on the new primary. (FerretDB has no replication and ignores it.)
 *
 * The head: each instance remembers the last head it saw per conversation, only as a hint. An
 * append tries hint+1 straight away (one round trip for a conversation written by one
 * instance). When the caller's `headHint` (the conversation projection's head, which every
 * instance's commits move) is ahead of that, or there is none (the first append of this instance
 * to the conversation), the caller's hint is checked by a point read instead, which spares an
 * insert that would conflict and the sorted query (which FerretDB answers by fetching and sorting
 * the conversation's whole log). On a duplicate key (11000) the error is not trusted to name the index (FerretDB
 * does not): the event at the tried seq is read by `_id`; if it carries our (actor,
 * clientMessageId) the append is a `duplicate`; if another event took the seq, the head is
 * walked forward by `_id` (seqs are dense, so the first missing seq ends the log); if the seq is
 * free the conflict was the (actor, clientMessageId) index and that event is returned. Writers
 * that keep colliding back off with jitter; after `maxAttempts` the append fails UNAVAILABLE (the
 * caller retries with the same clientMessageId). Reads are `_id` point reads wherever the dense
 * seqs allow (a one-event `read` too): FerretDB pushes equality filters down to PostgreSQL but
 * sorts, limits and applies ranges itself, over every event of the conversation.
 * Within one instance, appends to one conversation take turns, so only separate instances ever
 * race for a seq.
 */
export async function createMongoEventLogStore(opts: MongoEventLogStoreOptions): Promise<EventLogStore> {
  const prefix = opts.collectionPrefix ?? "";
  const collection = `${prefix}event_log`;
  const { db, clock } = opts;
  const maxAttempts = opts.maxAttempts ?? 64;
  const result = await runMigrations(mongoMigrationTarget(db, `${prefix}event_log_migrations`), eventLogMongoMigrations(collection));
  opts.onMigrated?.(result);
  const events = db.collection<EventDoc>(collection, { readConcern: { level: "majority" }, writeConcern: { w: "majority" } });
  const hints = new Map<string, LogHead>();
  // Per conversation, the tail of this instance's appends: the next one starts after it settles.
  const lanes = new Map<string, Promise<unknown>>();
  let closed = false;

  function inLane<T>(key: string, run: () => Promise<T>): Promise<T> {
    const result = (lanes.get(key) ?? Promise.resolve()).then(run);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    lanes.set(key, tail);
    void tail.then(() => {
      if (lanes.get(key) === tail) lanes.delete(key);
    });
    return result;
  }

  /** A closed store refuses calls UNAVAILABLE: the instance is going away, the caller retries elsewhere. */
  function open(): void {
    if (closed) throw new UnavailableError("the event log store is closed; retry");
  }

  /** Records a committed head; hints only move forward, and the least recently used go first. */
  function remember(key: string, head: LogHead): void {
    const known = hints.get(key);
    if (known && known.seq > head.seq) return;
    hints.delete(key);
    hints.set(key, head);
    if (hints.size > HEAD_HINTS) hints.delete(hints.keys().next().value!);
  }

  async function eventAt(tenantId: string, conversationId: string, seq: number): Promise<EventDoc | null> {
    return events.findOne({ _id: docId(tenantId, conversationId, seq) });
  }

  /** The committed head now: walked forward from the hint, or one sorted query. */
  async function currentHead(tenantId: string, conversationId: string): Promise<LogHead> {
    const key = `${tenantId}|${conversationId}`;
    let head = hints.get(key);
    for (let step = 0; head && step < HINT_STEPS; step++) {
      const next = await events.findOne({ _id: docId(tenantId, conversationId, head.seq + 1) }, { projection: { seq: 1, countableSeq: 1 } });
      if (!next) {
        remember(key, head);
        return head;
      }
      head = { seq: next.seq, countableSeq: next.countableSeq };
    }
    const [top] = await events
      .find({ tenantId, conversationId }, { projection: { _id: 0, seq: 1, countableSeq: 1 } })
      .sort({ seq: -1 })
      .limit(1)
      .toArray();
    head = { seq: top?.seq ?? 0, countableSeq: top?.countableSeq ?? 0 };
    if (head.seq > 0) remember(key, head);
    return head;
  }

  /**
   * The caller's head hint checked by one point read of the event at its seq (the countable
   * counter is taken from the log, not from the hint); undefined when it cannot be checked.
   * A hint behind the head is still a good start: the insert conflicts and the head is walked
   * forward by `_id` from there.
   */
  async function hintedHead(tenantId: string, conversationId: string, hint: LogHead | undefined): Promise<LogHead | undefined> {
    if (!hint || !Number.isSafeInteger(hint.seq) || hint.seq < 1) return undefined;
    const at = await events.findOne({ _id: docId(tenantId, conversationId, hint.seq) }, { projection: { seq: 1, countableSeq: 1 } });
    if (!at) return undefined;
    const head = { seq: at.seq, countableSeq: at.countableSeq };
    remember(`${tenantId}|${conversationId}`, head);
    return head;
  }

  async function byClientMessageId(tenantId: string, conversationId: string, actorId: string, clientMessageId: string) {
    const doc = await events.findOne({ tenantId, conversationId, actorId, clientMessageId });
    return doc ? toEvent(doc) : undefined;
  }

  /** Where an append starts: our own hint, the caller's when it is ahead (checked), or the log's head. */
  async function startHead(tenantId: string, conversationId: string, headHint: LogHead | undefined): Promise<LogHead> {
    const own = hints.get(`${tenantId}|${conversationId}`);
    const ahead = headHint !== undefined && (own === undefined || headHint.seq > own.seq);
    return (ahead ? await hintedHead(tenantId, conversationId, headHint) : undefined) ?? own ?? (await currentHead(tenantId, conversationId));
  }

  /**
   * A batch as one ordered `insertMany` at the next seqs (one round trip when nothing is in the
   * way). It stops at the first document that conflicts: those before it are committed, and that
   * one goes through `appendInLane`, which tells a taken seq (another instance appended: the head
   * moved) from a taken (actor, clientMessageId) (a retry of an append committed before: the
   * original is returned as `duplicate`, never a second event); the rest then start over from
   * the new head. A retry of a batch that crashed half-way so pays the conflicts of its
   * committed part once each, and appends nothing twice.
   */
  async function appendBatchInLane(tenantId: string, inputs: AppendInput[]): Promise<AppendResult[]> {
    const results: AppendResult[] = [];
    while (results.length < inputs.length) {
      const rest = inputs.slice(results.length);
      const conversationId = rest[0]!.conversationId;
      const head = await startHead(tenantId, conversationId, rest[0]!.headHint);
      let countableSeq = head.countableSeq;
      const built = rest.map((input, i) => {
        const seq = head.seq + 1 + i;
        countableSeq += input.countable ? 1 : 0;
        const createTimeMs = clock.nowMs();
        const body = input.encode({ seq, countableSeq, createTimeMs });
        const clientMessageId = input.clientMessageId ?? `~${input.eventId}`;
        const event: LogEvent = {
          tenantId,
          conversationId,
          seq,
          eventId: input.eventId,
          actorId: input.actorId,
          clientMessageId,
          payloadHash: input.payloadHash,
          countable: input.countable,
          countableSeq,
          body,
          createTimeMs,
          redacted: false,
        };
        return event;
      });
      const aborted = rest.find((input) => input.signal?.aborted);
      if (aborted) throw abandonedAppend(aborted.signal!);
      let inserted = built.length;
      try {
        await events.insertMany(
          built.map((event) => ({ _id: docId(tenantId, conversationId, event.seq), ...event, published: false })),
          { ordered: true },
        );
      } catch (err) {
        inserted = insertedBeforeConflict(err);
      }
      for (const event of built.slice(0, inserted)) results.push({ kind: "appended", event });
      if (inserted > 0) remember(`${tenantId}|${conversationId}`, { seq: built[inserted - 1]!.seq, countableSeq: built[inserted - 1]!.countableSeq });
      if (inserted < built.length) results.push(await appendInLane(tenantId, rest[inserted]!));
    }
    return results;
  }

  async function appendInLane(tenantId: string, input: AppendInput): Promise<AppendResult> {
    const { conversationId, actorId } = input;
    const key = `${tenantId}|${conversationId}`;
    const clientMessageId = input.clientMessageId ?? `~${input.eventId}`;
    // No lookup before the insert: a retried send is rare, and the unique index catches it.
    // The caller's hint (the projection, moved by every instance's commits) ahead of our own means
    // another instance appended since: one point read at it is cheaper than an insert that
    // conflicts and the reads that then find the head.
    let head = await startHead(tenantId, conversationId, input.headHint);
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const seq = head.seq + 1;
      const countableSeq = head.countableSeq + (input.countable ? 1 : 0);
      const createTimeMs = clock.nowMs();
      const body = input.encode({ seq, countableSeq, createTimeMs });
      const event: LogEvent = {
        tenantId,
        conversationId,
        seq,
        eventId: input.eventId,
        actorId,
        clientMessageId,
        payloadHash: input.payloadHash,
        countable: input.countable,
        countableSeq,
        body,
        createTimeMs,
        redacted: false,
      };
      // The head reads above (and a contended seq's retries) may have waited long on an
      // overloaded server: the last moment to give up a send nobody waits for.
      if (input.signal?.aborted) throw abandonedAppend(input.signal);
      try {
        await events.insertOne({ _id: docId(tenantId, conversationId, seq), ...event, published: false });
        remember(key, { seq, countableSeq });
        return { kind: "appended", event };
      } catch (err) {
        if (!isMongoDuplicateKeyError(err)) throw err;
      }
      const taken = await eventAt(tenantId, conversationId, seq);
      if (taken) {
        if (taken.actorId === actorId && taken.clientMessageId === clientMessageId) return { kind: "duplicate", event: toEvent(taken) };
        remember(key, { seq: taken.seq, countableSeq: taken.countableSeq });
      } else {
        const prior = await byClientMessageId(tenantId, conversationId, actorId, clientMessageId);
        if (prior) return { kind: "duplicate", event: prior };
        // Neither is visible at majority yet: the conflicting insert is still replicating.
      }
      if (attempt > 2) await sleep(Math.random() * Math.min(attempt, 8));
      head = await currentHead(tenantId, conversationId);
    }
    throw new UnavailableError(`conversation ${conversationId}: no free seq after ${maxAttempts} attempts (write contention); retry`);
  }

  return {
    async append(scope, input): Promise<AppendResult> {
      open();
      const tenantId = tenantOf(scope);
      checkAppend(input);
      // Appends queued behind one in flight when the store closed fail at their turn, not later.
      return inLane(`${tenantId}|${input.conversationId}`, () => {
        open();
        // The caller left while this append waited behind others: nobody waits for it any more.
        if (input.signal?.aborted) throw abandonedAppend(input.signal);
        return appendInLane(tenantId, input);
      });
    },

    async appendBatch(scope, inputs): Promise<AppendResult[]> {
      open();
      const tenantId = tenantOf(scope);
      const conversationId = checkAppendBatch(inputs);
      if (conversationId === undefined) return [];
      return inLane(`${tenantId}|${conversationId}`, () => {
        open();
        return appendBatchInLane(tenantId, inputs);
      });
    },

    async read(scope, conversationId, afterSeq, limit) {
      open();
      const tenantId = tenantOf(scope);
      checkName("conversationId", conversationId, 128);
      checkSeq(afterSeq);
      // One event (a message by seq, the next one a consumer needs): seqs are dense, so it is the
      // event at afterSeq+1 or none, one `_id` read. The sorted range below makes FerretDB fetch
      // and sort every event of the conversation, however few it returns.
      if (checkLimit(limit) === 1) {
        const next = await eventAt(tenantId, conversationId, afterSeq + 1);
        return next ? [toEvent(next)] : [];
      }
      const docs = await events
        .find({ tenantId, conversationId, seq: { $gt: afterSeq } })
        .sort({ seq: 1 })
        .limit(limit)
        .toArray();
      return docs.map(toEvent);
    },

    async head(scope, conversationId, hint) {
      open();
      const tenantId = tenantOf(scope);
      checkName("conversationId", conversationId, 128);
      // Like an append's: a caller's hint ahead of our own is checked by one point read (it then
      // becomes our own), and the head is walked forward from there by `_id`.
      const own = hints.get(`${tenantId}|${conversationId}`);
      if (hint !== undefined && (own === undefined || hint.seq > own.seq)) await hintedHead(tenantId, conversationId, hint);
      return currentHead(tenantId, conversationId);
    },

    async findByClientMessageId(scope, conversationId, actorId, clientMessageId) {
      open();
      return byClientMessageId(tenantOf(scope), checkName("conversationId", conversationId, 128), actorId, clientMessageId);
    },

    async redact(scope, conversationId, seq, body) {
      open();
      const tenantId = tenantOf(scope);
      checkName("conversationId", conversationId, 128);
      const res = await events.updateOne({ _id: docId(tenantId, conversationId, checkSeq(seq)), tenantId, conversationId, seq }, { $set: { body, redacted: true } });
      if (res.matchedCount === 0) throw new NotFoundError("event");
    },

    async redactBatch(scope, conversationId, entries) {
      open();
      const tenantId = tenantOf(scope);
      checkName("conversationId", conversationId, 128);
      checkRedactBatch(entries);
      if (entries.length === 0) return;
      // Single updates, REDACT_LANES in flight: FerretDB v1.24 (PostgreSQL) never answered an
      // `update` command of 100 statements (a bulkWrite) within minutes here.
      let next = 0;
      let missing = 0;
      const lane = async () => {
        for (let i = next++; i < entries.length; i = next++) {
          const { seq, body } = entries[i]!;
          const res = await events.updateOne({ _id: docId(tenantId, conversationId, seq), tenantId, conversationId, seq }, { $set: { body, redacted: true } });
          if (res.matchedCount === 0) missing++;
        }
      };
      await Promise.all(Array.from({ length: Math.min(REDACT_LANES, entries.length) }, lane));
      if (missing > 0) throw new NotFoundError("event");
    },

    async scanTenant(scope, after, limit) {
      open();
      const tenantId = tenantOf(scope);
      // Document ids sort as (tenant, conversation, zero-padded seq): an id range is the tenant's log in order.
      const from = after ? docId(tenantId, checkName("conversationId", after.conversationId, 128), checkSeq(after.seq)) : `${tenantId}|`;
      const docs = await events
        .find({ _id: { $gt: from, $lt: `${tenantId}|\uffff` } })
        .sort({ _id: 1 })
        .limit(checkLimit(limit))
        .toArray();
      return docs.map(toEvent);
    },

    async rewriteBody(scope, conversationId, seq, body, expectRedacted) {
      open();
      const tenantId = tenantOf(scope);
      const res = await events.updateOne({ _id: docId(tenantId, checkName("conversationId", conversationId, 128), checkSeq(seq)), redacted: expectRedacted }, { $set: { body } });
      return res.modifiedCount === 1 || res.matchedCount === 1;
    },

    async unpublished(limit, committedBeforeMs) {
      open();
      const docs = await events
        .find({ published: false, createTimeMs: { $lte: committedBeforeMs } })
        .sort({ tenantId: 1, conversationId: 1, seq: 1 })
        .limit(checkLimit(limit))
        .toArray();
      return docs.map(toEvent);
    },

    async markPublished(keys: EventKey[]) {
      open();
      const ids = keys.map((k) => docId(k.tenantId, k.conversationId, k.seq));
      for (let i = 0; i < ids.length; i += 500) {
        // `published: false` is what FerretDB can filter on in PostgreSQL (an equality; it does
        // not push `$in` down): it reads the outbox's few unpublished events, not the whole log.
        await events.updateMany({ published: false, _id: { $in: ids.slice(i, i + 500) } }, { $set: { published: true } });
      }
    },

    async close() {
      closed = true;
      hints.clear();
    },
  };
}
