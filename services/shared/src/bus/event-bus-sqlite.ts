import type Database from "better-sqlite3";
import { fromBinary, toBinary, type DescMessage } from "@bufbuild/protobuf";
import type { Clock } from "../clock.js";
import type { Logger } from "../logger.js";
import { openSqliteDatabase } from "../sqlite.js";
import { runMigrations, sqliteMigrationTarget, type Migration } from "../migrations.js";
import type { BatchSubscribeOptions, BatchSubscription, BusBatch, BusRecord, EventBus, PartitionLag, SubscribeOptions, Subscription, TopicSpec } from "./event-bus.js";

export interface SqliteEventBusOptions {
  /** Database file (one per platform in embedded mode), or ":memory:" in tests. */
  path: string;
  clock: Clock;
  logger: Logger;
  /** Records older than this are deleted, like Kafka's retention (default 7 days). */
  retentionMs?: number;
  /** Records fetched per read (default 256). */
  batchSize?: number;
}

const MIGRATIONS: Migration<Database.Database>[] = [
  {
    version: 1,
    name: "records and group offsets",
    up(db) {
      db.exec(`
        CREATE TABLE bus_records (
          offset INTEGER PRIMARY KEY AUTOINCREMENT,
          topic TEXT NOT NULL,
          key TEXT NOT NULL,
          value BLOB NOT NULL,
          headers TEXT NOT NULL,
          time_ms INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX bus_records_topic ON bus_records (topic, offset);
        CREATE TABLE bus_offsets (
          grp TEXT NOT NULL,
          topic TEXT NOT NULL,
          offset INTEGER NOT NULL,
          PRIMARY KEY (grp, topic)
        ) STRICT;
      `);
    },
  },
];

interface Row {
  offset: number;
  key: string;
  value: Buffer;
  headers: string;
}

/**
 * The embedded event bus: a durable log in one SQLite file with committed offsets per consumer
 * group, so a restart loses nothing a producer was told was published and a consumer resumes
 * where it stopped. Single process only (consumers are woken in-process); one subscription per
 * (group, topic) per process. Records are delivered in publish order (hence per key).
 */
export async function createSqliteEventBus(opts: SqliteEventBusOptions): Promise<EventBus> {
  const db = openSqliteDatabase(opts.path);
  await runMigrations(sqliteMigrationTarget(db), MIGRATIONS);
  // Rewritten (redacted) and pruned records leave no copy in free space (see rewriteRecords).
  db.pragma("secure_delete = ON");

  const insert = db.prepare("INSERT INTO bus_records (topic, key, value, headers, time_ms) VALUES (?, ?, ?, ?, ?)");
  const readAfter = db.prepare("SELECT offset, key, value, headers FROM bus_records WHERE topic = ? AND offset > ? ORDER BY offset LIMIT ?");
  const getOffset = db.prepare("SELECT offset FROM bus_offsets WHERE grp = ? AND topic = ?");
  const setOffset = db.prepare("INSERT INTO bus_offsets (grp, topic, offset) VALUES (?, ?, ?) ON CONFLICT (grp, topic) DO UPDATE SET offset = excluded.offset");
  const maxOffset = db.prepare("SELECT COALESCE(MAX(offset), 0) AS o FROM bus_records WHERE topic = ?");
  const prune = db.prepare("DELETE FROM bus_records WHERE time_ms < ?");
  const scanTopic = db.prepare<[string, number, number], { offset: number; key: string; value: Buffer }>(
    "SELECT offset, key, value FROM bus_records WHERE topic = ? AND offset > ? ORDER BY offset LIMIT ?",
  );
  const setValue = db.prepare("UPDATE bus_records SET value = ? WHERE offset = ?");
  const pending = db.prepare<[string, number], { n: number; oldest: number | null }>("SELECT COUNT(*) AS n, MIN(time_ms) AS oldest FROM bus_records WHERE topic = ? AND offset > ?");
  const batchSize = opts.batchSize ?? 256;
  const retentionMs = opts.retentionMs ?? 7 * 24 * 3600_000;

  const wakers = new Map<string, Set<() => void>>();
  const active = new Set<string>();
  const subscriptions = new Set<Subscription>();
  let closed = false;

  const pruneTimer = setInterval(() => prune.run(opts.clock.nowMs() - retentionMs), 60_000);
  pruneTimer.unref();

  /**
   * One group's consumer of a topic in this process, as record and batch subscriptions both set
   * it up: its start offset (committed, else the log's start or end), a sleep that a publish or
   * close cuts short, handler retries with backoff until success or close, and the close.
   */
  const openMember = (topicName: string, sub: SubscribeOptions) => {
    const id = `${sub.group}\u0000${topicName}`;
    if (active.has(id)) throw new Error(`group ${sub.group} already consumes ${topicName} in this process`);
    active.add(id);
    const committed = getOffset.get(sub.group, topicName) as { offset: number } | undefined;
    const start = committed?.offset ?? (sub.from === "earliest" ? 0 : (maxOffset.get(topicName) as { o: number }).o);
    if (!committed) setOffset.run(sub.group, topicName, start);
    let stopped = false;
    let wake: (() => void) | undefined;
    const waker = () => wake?.();
    const set = wakers.get(topicName) ?? new Set();
    set.add(waker);
    wakers.set(topicName, set);
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    return {
      start,
      get stopped() {
        return stopped;
      },
      sleep,
      /** Runs `work` until it resolves (true) or the consumer closes (false); `beforeWait` runs before each backoff. */
      async retry(work: () => Promise<void>, context: Record<string, unknown>, message: string, beforeWait?: () => void): Promise<boolean> {
        for (let attempt = 0; !stopped; attempt++) {
          try {
            await work();
            return true;
          } catch (err) {
            const delay = Math.min(5_000, 50 * 2 ** Math.min(attempt, 7));
            opts.logger.warn({ err, topic: topicName, group: sub.group, ...context, delay }, message);
            beforeWait?.();
            await sleep(delay);
          }
        }
        return false;
      },
      async close(loop: Promise<void>) {
        stopped = true;
        wake?.();
        set.delete(waker);
        await loop;
        active.delete(id);
      },
    };
  };

  return {
    async publish<Desc extends DescMessage>(topic: TopicSpec<Desc>, records: BusRecord<Desc>[]) {
      if (closed) throw new Error("event bus is closed");
      const now = opts.clock.nowMs();
      db.transaction(() => {
        for (const r of records) {
          insert.run(topic.name, r.key, Buffer.from(toBinary(topic.schema, r.value)), JSON.stringify(r.headers), now);
        }
      })();
      for (const wake of wakers.get(topic.name) ?? []) wake();
    },

    async subscribe<Desc extends DescMessage>(topic: TopicSpec<Desc>, sub: SubscribeOptions, handler: (record: BusRecord<Desc>) => Promise<void>): Promise<Subscription> {
      const member = openMember(topic.name, sub);
      let position = member.start;
      // The offset is committed once per batch read (and before a retry's wait), not per record:
      // a crash redelivers at most the rest of one batch, which at-least-once allows.
      let committedPosition = position;
      const commit = () => {
        if (position === committedPosition) return;
        setOffset.run(sub.group, topic.name, position);
        committedPosition = position;
      };
      const loop = (async () => {
        while (!member.stopped) {
          commit();
          const rows = readAfter.all(topic.name, position, batchSize) as Row[];
          if (rows.length === 0) {
            await member.sleep(1_000);
            continue;
          }
          for (const row of rows) {
            if (member.stopped) break;
            const record: BusRecord<Desc> = { key: row.key, value: fromBinary(topic.schema, row.value), headers: JSON.parse(row.headers) as Record<string, string> };
            // At least once: the offset moves only after the handler succeeded.
            if (!(await member.retry(() => handler(record), { offset: row.offset }, "consumer failed; retrying", commit))) break;
            position = row.offset;
          }
        }
        if (db.open) commit();
      })();
      const subscription: Subscription = {
        async close() {
          await member.close(loop);
          subscriptions.delete(subscription);
        },
      };
      subscriptions.add(subscription);
      return subscription;
    },

    async subscribeBatches<Desc extends DescMessage>(topic: TopicSpec<Desc>, sub: BatchSubscribeOptions, handler: (batch: BusBatch<Desc>) => Promise<void>): Promise<BatchSubscription> {
      const member = openMember(topic.name, sub);
      let position = member.start;
      const maxRecords = sub.maxRecords ?? 500;
      const loop = (async () => {
        while (!member.stopped) {
          const rows = readAfter.all(topic.name, position, maxRecords) as Row[];
          if (rows.length === 0) {
            await member.sleep(1_000);
            continue;
          }
          const batch: BusBatch<Desc> = {
            partition: 0,
            records: rows.map((row) => ({ key: row.key, value: fromBinary(topic.schema, row.value), headers: JSON.parse(row.headers) as Record<string, string> })),
          };
          const done = await member.retry(() => handler(batch), { offset: rows[0]!.offset, records: rows.length }, "consumer failed; retrying the batch");
          // Acknowledged only once the handler resolved for the whole batch.
          if (!done || !db.open) break;
          position = rows[rows.length - 1]!.offset;
          setOffset.run(sub.group, topic.name, position);
        }
      })();
      const subscription: BatchSubscription = {
        async close() {
          await member.close(loop);
          subscriptions.delete(subscription);
        },
        // One partition. Offsets are shared by every topic of the log, so they have gaps: the
        // lag in events is a count of the topic's records after the group's position.
        async lag(): Promise<PartitionLag[]> {
          const p = pending.get(topic.name, position)!;
          const end = (maxOffset.get(topic.name) as { o: number }).o + 1;
          return [{ partition: 0, committedOffset: position + 1, endOffset: Math.max(end, position + 1), lagEvents: p.n, lagMs: p.oldest === null ? 0 : Math.max(0, opts.clock.nowMs() - p.oldest) }];
        },
      };
      subscriptions.add(subscription);
      return subscription;
    },

    // A page at a time, each update its own statement: no transaction spans the caller's awaits.
    async rewriteRecords(topic, rewrite) {
      let changed = 0;
      for (let after = 0; ;) {
        const rows = scanTopic.all(topic.name, after, batchSize);
        for (const row of rows) {
          const next = await rewrite(fromBinary(topic.schema, row.value), row.key);
          if (next === undefined || closed) continue;
          setValue.run(Buffer.from(toBinary(topic.schema, next)), row.offset);
          changed++;
        }
        if (rows.length < batchSize) break;
        after = rows[rows.length - 1]!.offset;
      }
      // The WAL's older frames still hold the pages as they were.
      if (changed > 0 && !closed) db.pragma("wal_checkpoint(TRUNCATE)");
      return changed;
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(pruneTimer);
      await Promise.all([...subscriptions].map((s) => s.close()));
      db.close();
    },
  };
}
