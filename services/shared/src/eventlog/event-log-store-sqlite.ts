import type Database from "better-sqlite3";
import { openSqliteDatabase } from "../sqlite.js";
import { checkName, tenantOf } from "../adapters/checks.js";
import type { Clock } from "../clock.js";
import { NotFoundError, UnavailableError } from "../errors.js";
import { runMigrations, sqliteMigrationTarget, type Migration, type MigrationResult } from "../migrations.js";
import { checkAppend, checkAppendBatch, checkLimit, checkRedactBatch, checkSeq } from "./event-log-checks.js";
import { abandonedAppend, type AppendInput, type AppendResult, type EventKey, type EventLogStore, type LogEvent, type LogHead } from "./event-log-store.js";

export interface SqliteEventLogStoreOptions {
  /**
   * An open database shared with the service's other stores; its owner configured it (WAL) and
   * closes it. Exactly one of `db` and `path`.
   */
  db?: Database.Database;
  /** A database file this store opens (WAL, busy_timeout; see `sync`) and closes. */
  path?: string;
  clock: Clock;
  /**
   * Runs `EVENT_LOG_SQLITE_MIGRATIONS` on open (default true). `sqliteMigrationTarget` keeps one
   * `schema_migrations` table per database, so the owner of a database shared with other stores
   * runs one combined migration list instead and passes false.
   */
  migrate?: boolean;
  /** Told what the migration run did (for the startup log). */
  onMigrated?: (result: MigrationResult) => void;
  /**
   * `full` (default): each group commit runs under synchronous=FULL, so the WAL is fsynced before
   * the appends of the batch resolve (an ack survives a power loss). `normal`: the connection's
   * synchronous=NORMAL (an ack survives a process crash only). CAAS_EVENT_LOG_SYNC.
   */
  sync?: "full" | "normal";
}

/** The event log's schema steps; append only, never edit a released one. */
export const EVENT_LOG_SQLITE_MIGRATIONS: Migration<Database.Database>[] = [
  {
    version: 1,
    name: "event log",
    up(db) {
      db.exec(`
        CREATE TABLE event_log (
          tenant_id TEXT NOT NULL,
          conversation_id TEXT NOT NULL,
          seq INTEGER NOT NULL,
          event_id TEXT NOT NULL,
          actor_id TEXT NOT NULL,
          client_message_id TEXT NOT NULL,
          payload_hash TEXT NOT NULL,
          countable INTEGER NOT NULL,
          countable_seq INTEGER NOT NULL,
          body BLOB NOT NULL,
          create_time_ms INTEGER NOT NULL,
          redacted INTEGER NOT NULL DEFAULT 0,
          published INTEGER NOT NULL DEFAULT 0,
          PRIMARY KEY (tenant_id, conversation_id, seq),
          UNIQUE (tenant_id, conversation_id, actor_id, client_message_id)
        ) STRICT;
        -- The outbox: only unpublished rows are in it, so it stays as small as the relay's backlog.
        CREATE INDEX event_log_unpublished ON event_log (tenant_id, conversation_id, seq) WHERE published = 0;
      `);
    },
  },
];

interface Row {
  tenant_id: string;
  conversation_id: string;
  seq: number;
  event_id: string;
  actor_id: string;
  client_message_id: string;
  payload_hash: string;
  countable: number;
  countable_seq: number;
  body: Buffer;
  create_time_ms: number;
  redacted: number;
}

interface PendingAppend {
  tenantId: string;
  input: AppendInput;
  resolve(result: AppendResult): void;
  reject(err: unknown): void;
}

const COLUMNS = "tenant_id, conversation_id, seq, event_id, actor_id, client_message_id, payload_hash, countable, countable_seq, body, create_time_ms, redacted";

/**
 * The embedded `EventLogStore` on better-sqlite3. Appends issued in the same tick are grouped
 * into one `BEGIN IMMEDIATE` transaction (one commit), each in its own savepoint so one failing
 * `encode` does not fail the others; the promises resolve after the commit. Every transaction is
 * synchronous: none spans an `await`. Under the write lock the head read and the insert cannot
 * race, so seqs are dense without retries, also across several connections to one file.
 * Durability (`sync`, ADR 0106): by default the batch commits under synchronous=FULL, one fsync
 * of the WAL per group commit; the WAL is sequential, so that fsync also makes durable whatever
 * the connection's other stores (synchronous=NORMAL) committed before it. Single machine only (a
 * SQLite file is not shared over the network).
 */
export async function createSqliteEventLogStore(opts: SqliteEventLogStoreOptions): Promise<EventLogStore> {
  if ((opts.db === undefined) === (opts.path === undefined)) throw new TypeError("give exactly one of db and path");
  const owned = opts.db === undefined;
  const db = opts.db ?? openSqliteDatabase(opts.path!);
  const { clock } = opts;
  try {
    if (opts.migrate ?? true) {
      const result = await runMigrations(sqliteMigrationTarget(db), EVENT_LOG_SQLITE_MIGRATIONS);
      opts.onMigrated?.(result);
    }
  } catch (err) {
    if (owned) db.close();
    throw err;
  }

  const byClientMessageId = db.prepare<[string, string, string, string], Row>(
    `SELECT ${COLUMNS} FROM event_log WHERE tenant_id = ? AND conversation_id = ? AND actor_id = ? AND client_message_id = ?`,
  );
  const headOf = db.prepare<[string, string], { seq: number; countable_seq: number }>("SELECT seq, countable_seq FROM event_log WHERE tenant_id = ? AND conversation_id = ? ORDER BY seq DESC LIMIT 1");
  const insert = db.prepare(`INSERT INTO event_log (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`);
  const readPage = db.prepare<[string, string, number, number], Row>(`SELECT ${COLUMNS} FROM event_log WHERE tenant_id = ? AND conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?`);
  const redactOne = db.prepare("UPDATE event_log SET body = ?, redacted = 1 WHERE tenant_id = ? AND conversation_id = ? AND seq = ?");
  const scanPage = db.prepare<[string, string, string, number, number], Row>(
    `SELECT ${COLUMNS} FROM event_log WHERE tenant_id = ? AND (conversation_id > ? OR (conversation_id = ? AND seq > ?)) ORDER BY conversation_id, seq LIMIT ?`,
  );
  const rewriteOne = db.prepare("UPDATE event_log SET body = ? WHERE tenant_id = ? AND conversation_id = ? AND seq = ? AND redacted = ?");
  const outbox = db.prepare<[number, number], Row>(`SELECT ${COLUMNS} FROM event_log WHERE published = 0 AND create_time_ms <= ? ORDER BY tenant_id, conversation_id, seq LIMIT ?`);
  const markOne = db.prepare("UPDATE event_log SET published = 1 WHERE tenant_id = ? AND conversation_id = ? AND seq = ? AND published = 0");

  // Nested inside the batch transaction, better-sqlite3 runs this as a savepoint.
  const appendOne = db.transaction((tenantId: string, input: AppendInput): AppendResult => {
    const clientMessageId = input.clientMessageId ?? `~${input.eventId}`;
    const prior = byClientMessageId.get(tenantId, input.conversationId, input.actorId, clientMessageId);
    if (prior) return { kind: "duplicate", event: toEvent(prior) };
    const head = headOf.get(tenantId, input.conversationId);
    const assigned = {
      seq: (head?.seq ?? 0) + 1,
      countableSeq: (head?.countable_seq ?? 0) + (input.countable ? 1 : 0),
      createTimeMs: clock.nowMs(),
    };
    const body = input.encode(assigned);
    insert.run(
      tenantId,
      input.conversationId,
      assigned.seq,
      input.eventId,
      input.actorId,
      clientMessageId,
      input.payloadHash,
      input.countable ? 1 : 0,
      assigned.countableSeq,
      body,
      assigned.createTimeMs,
    );
    return {
      kind: "appended",
      event: {
        tenantId,
        conversationId: input.conversationId,
        seq: assigned.seq,
        eventId: input.eventId,
        actorId: input.actorId,
        clientMessageId,
        payloadHash: input.payloadHash,
        countable: input.countable,
        countableSeq: assigned.countableSeq,
        body,
        createTimeMs: assigned.createTimeMs,
        redacted: false,
      },
    };
  });

  // The connection's own setting (NORMAL, openSqliteDatabase) is restored after each group
  // commit: the other stores on this connection do not pay an fsync per write.
  const syncFull = opts.sync === "normal" ? undefined : { on: db.prepare("PRAGMA synchronous = FULL"), off: db.prepare("PRAGMA synchronous = NORMAL") };
  const commitBatch = db.transaction((batch: PendingAppend[], outcomes: ({ ok: true; result: AppendResult } | { ok: false; err: unknown })[]) => {
    for (const p of batch) {
      try {
        outcomes.push({ ok: true, result: appendOne(p.tenantId, p.input) });
      } catch (err) {
        outcomes.push({ ok: false, err });
      }
    }
  });

  let queue: PendingAppend[] = [];
  let closed = false;

  function flush(): void {
    // Appends whose caller left while they waited for the batch are not committed.
    const batch = queue.filter((p) => {
      if (!p.input.signal?.aborted) return true;
      p.reject(abandonedAppend(p.input.signal));
      return false;
    });
    queue = [];
    if (batch.length === 0) return;
    const outcomes: ({ ok: true; result: AppendResult } | { ok: false; err: unknown })[] = [];
    try {
      syncFull?.on.run();
      try {
        commitBatch.immediate(batch, outcomes);
      } finally {
        syncFull?.off.run();
      }
    } catch (err) {
      // The commit itself failed: nothing of the batch is durable.
      for (const p of batch) p.reject(err);
      return;
    }
    batch.forEach((p, i) => {
      const o = outcomes[i]!;
      if (o.ok) p.resolve(o.result);
      else p.reject(o.err);
    });
  }

  /** A closed store refuses calls UNAVAILABLE: the instance is going away, the caller retries elsewhere. */
  function open(): void {
    if (closed) throw new UnavailableError("the event log store is closed; retry");
  }

  const redactMany = db.transaction((tenantId: string, conversationId: string, entries: { seq: number; body: Uint8Array }[]) =>
    entries.reduce((missing, e) => missing + (redactOne.run(e.body, tenantId, conversationId, e.seq).changes === 0 ? 1 : 0), 0),
  );

  function enqueue(tenantId: string, input: AppendInput): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      if (queue.length === 0) setImmediate(flush);
      queue.push({ tenantId, input, resolve, reject });
    });
  }

  return {
    async append(scope, input) {
      open();
      const tenantId = tenantOf(scope);
      checkAppend(input);
      return enqueue(tenantId, input);
    },

    // Queued in one tick, the inputs go out in one group commit, in order (each in its savepoint).
    async appendBatch(scope, inputs) {
      open();
      const tenantId = tenantOf(scope);
      checkAppendBatch(inputs);
      return Promise.all(inputs.map((input) => enqueue(tenantId, input)));
    },

    async read(scope, conversationId, afterSeq, limit) {
      open();
      return readPage.all(tenantOf(scope), checkName("conversationId", conversationId, 128), checkSeq(afterSeq), checkLimit(limit)).map(toEvent);
    },

    // The hint is not needed: one indexed query answers.
    async head(scope, conversationId): Promise<LogHead> {
      open();
      const row = headOf.get(tenantOf(scope), checkName("conversationId", conversationId, 128));
      return { seq: row?.seq ?? 0, countableSeq: row?.countable_seq ?? 0 };
    },

    async findByClientMessageId(scope, conversationId, actorId, clientMessageId) {
      open();
      const row = byClientMessageId.get(tenantOf(scope), checkName("conversationId", conversationId, 128), actorId, clientMessageId);
      return row && toEvent(row);
    },

    async redact(scope, conversationId, seq, body) {
      open();
      const changed = redactOne.run(body, tenantOf(scope), checkName("conversationId", conversationId, 128), checkSeq(seq)).changes;
      if (changed === 0) throw new NotFoundError("event");
    },

    async redactBatch(scope, conversationId, entries) {
      open();
      const tenantId = tenantOf(scope);
      checkName("conversationId", conversationId, 128);
      checkRedactBatch(entries);
      if (redactMany(tenantId, conversationId, entries) > 0) throw new NotFoundError("event");
    },

    async scanTenant(scope, after, limit) {
      open();
      const c = after ? checkName("conversationId", after.conversationId, 128) : "";
      return scanPage.all(tenantOf(scope), c, c, after ? checkSeq(after.seq) : 0, checkLimit(limit)).map(toEvent);
    },

    async rewriteBody(scope, conversationId, seq, body, expectRedacted) {
      open();
      return rewriteOne.run(body, tenantOf(scope), checkName("conversationId", conversationId, 128), checkSeq(seq), expectRedacted ? 1 : 0).changes === 1;
    },

    async unpublished(limit, committedBeforeMs) {
      open();
      return outbox.all(committedBeforeMs, checkLimit(limit)).map(toEvent);
    },

    async markPublished(keys: EventKey[]) {
      open();
      db.transaction(() => {
        for (const k of keys) markOne.run(k.tenantId, k.conversationId, k.seq);
      })();
    },

    async close() {
      if (closed) return;
      flush();
      closed = true;
      if (owned) db.close();
    },
  };
}

function toEvent(r: Row): LogEvent {
  return {
    tenantId: r.tenant_id,
    conversationId: r.conversation_id,
    seq: r.seq,
    eventId: r.event_id,
    actorId: r.actor_id,
    clientMessageId: r.client_message_id,
    payloadHash: r.payload_hash,
    countable: r.countable === 1,
    countableSeq: r.countable_seq,
    // A plain view rather than the Buffer better-sqlite3 returns: the same type as every adapter.
    body: new Uint8Array(r.body.buffer, r.body.byteOffset, r.body.byteLength),
    createTimeMs: r.create_time_ms,
    redacted: r.redacted === 1,
  };
}
