import type { DescMessage } from "@bufbuild/protobuf";
import type { Clock } from "../clock.js";
import type { BusRecord, EventBus, TopicSpec } from "../bus/event-bus.js";
import type { Logger } from "../logger.js";
import type { EventKey, EventLogStore, LogEvent } from "./event-log-store.js";

export interface OutboxRelayOptions<Desc extends DescMessage> {
  store: EventLogStore;
  bus: EventBus;
  topic: TopicSpec<Desc>;
  /** Builds the bus record of a committed event (envelope, key, headers with correlation id). */
  toRecord(event: LogEvent): BusRecord<Desc>;
  clock: Clock;
  logger: Logger;
  /** Events fetched per round (default 500). */
  batchSize?: number;
  /** How often the sweeper looks for events nobody published (default 1000 ms). */
  sweepIntervalMs?: number;
  /**
   * Events younger than this are left to the instance that committed them, which publishes
   * right away; the sweeper takes older ones (a crashed or slow instance). Default 2000 ms.
   */
  sweepGraceMs?: number;
  /**
   * How long the marks of handed-over events published may wait, so that the events of several
   * rounds are marked in one write (default 200 ms; keep it well under the grace, or the
   * sweepers publish them again).
   */
  markDelayMs?: number;
}

/**
 * What a round publishes besides the events handed over by `notify(event)` (published without a
 * store read): nothing (`handed`), everything unpublished including the freshest (`all`), or what
 * stayed unpublished past the grace (`sweep`).
 */
type RoundKind = "handed" | "all" | "sweep";

/** The round that covers both (a round of `all` publishes what is handed over too). */
function wider(a: RoundKind | undefined, b: RoundKind): RoundKind {
  if (a === "all" || b === "all") return "all";
  return a === "handed" || b === "handed" ? "handed" : "sweep";
}

/**
 * Publishes committed events to the bus and marks them published: the outbox half of the event
 * log. `notify(event)` after an append publishes that event at once, from memory: the instance
 * that committed an event publishes it, with no read of the store (ADR 0215); `notify()` without
 * one publishes whatever is unpublished. A sweeper republishes whatever stayed unpublished past
 * the grace (a crash between commit and publish, a failed publish), so nothing committed is ever
 * lost. The same event may be published twice (a sweeper and a slow committer, a crash after
 * publish but before marking): consumers drop seqs they have. Within a round, each
 * conversation's events go out in seq order; across rounds and instances they may not, and
 * consumers fill a gap from the store of record.
 */
export class OutboxRelay<Desc extends DescMessage> {
  private running: Promise<void> | undefined;
  private again: RoundKind | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private published = 0;
  /** Events committed here and handed over, not yet in a round. */
  private handed: LogEvent[] = [];
  /** Handed-over events published and not marked yet (marked together, see markDelayMs). */
  private unmarked: EventKey[] = [];
  private markTimer: NodeJS.Timeout | undefined;
  private marking: Promise<void> = Promise.resolve();

  constructor(private readonly opts: OutboxRelayOptions<Desc>) {}

  /** Starts the sweeper and publishes what is pending. */
  start(): void {
    this.stopped = false;
    const every = this.opts.sweepIntervalMs ?? 1000;
    this.timer = setInterval(() => this.kick("sweep"), every);
    this.timer.unref();
    this.kick("sweep");
  }

  /** Called right after a local commit: publish it (the event committed, or everything unpublished when none is given) now. */
  notify(event?: LogEvent): void {
    if (event === undefined) return this.kick("all");
    if (this.stopped) return;
    this.handed.push(event);
    this.kick("handed");
  }

  /** Total events this relay published (for metrics and tests). */
  get publishedCount(): number {
    return this.published;
  }

  /** Stops the sweeper, waits for the round in progress and marks what it published. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.markNow();
  }

  /** Runs rounds until nothing is pending (used by tests and at shutdown). */
  async flush(): Promise<void> {
    await this.running;
    await this.round("all");
    await this.markNow();
  }

  private kick(kind: RoundKind): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = wider(this.again, kind);
      return;
    }
    this.running = (async () => {
      try {
        let next: RoundKind | undefined = kind;
        while (next !== undefined && !this.stopped) {
          this.again = undefined;
          await this.round(next);
          next = this.again;
        }
      } catch (err) {
        this.opts.logger.warn({ err }, "outbox relay round failed; the sweeper retries");
      } finally {
        this.running = undefined;
      }
    })();
  }

  private async round(kind: RoundKind): Promise<void> {
    const batch = this.opts.batchSize ?? 500;
    // Every round starts with what was handed over (a round that failed leaves the rest to the next
    // one). Handed-over events whose publish fails are dropped here: they stay unpublished in the
    // store, where the sweeper finds them after the grace.
    while (this.handed.length > 0) {
      const events = this.handed.splice(0, batch).sort(inLogOrder);
      await this.publish(events, true);
    }
    if (kind === "handed") return;
    // What was published but not marked yet would be read (and published) again.
    await this.markNow();
    const grace = kind === "all" ? 0 : (this.opts.sweepGraceMs ?? 2000);
    for (;;) {
      const events = await this.opts.store.unpublished(batch, this.opts.clock.nowMs() - grace);
      if (events.length === 0) return;
      await this.publish(events, false);
      if (events.length < batch) return;
    }
  }

  /** Publishes, then marks: at once (what a store read found must be marked before the next read), or `later` with others. */
  private async publish(events: LogEvent[], later: boolean): Promise<void> {
    await this.opts.bus.publish(
      this.opts.topic,
      events.map((e) => this.opts.toRecord(e)),
    );
    this.published += events.length;
    const keys = events.map((e) => ({ tenantId: e.tenantId, conversationId: e.conversationId, seq: e.seq }));
    if (!later) return this.opts.store.markPublished(keys);
    this.unmarked.push(...keys);
    if (this.markTimer) return;
    this.markTimer = setTimeout(() => void this.markNow(), this.opts.markDelayMs ?? 200);
    this.markTimer.unref();
  }

  /** Marks the handed-over events published so far. A failed mark is left to the sweeper (it publishes them again after the grace). */
  private markNow(): Promise<void> {
    if (this.markTimer) clearTimeout(this.markTimer);
    this.markTimer = undefined;
    const keys = this.unmarked;
    this.unmarked = [];
    this.marking = this.marking.then(async () => {
      if (keys.length === 0) return;
      try {
        await this.opts.store.markPublished(keys);
      } catch (err) {
        this.opts.logger.warn({ err, events: keys.length }, "marking published events failed; the sweeper publishes them again");
      }
    });
    return this.marking;
  }
}

/** By tenant, conversation and seq: the order `unpublished` returns. */
function inLogOrder(a: LogEvent, b: LogEvent): number {
  if (a.tenantId !== b.tenantId) return a.tenantId < b.tenantId ? -1 : 1;
  if (a.conversationId !== b.conversationId) return a.conversationId < b.conversationId ? -1 : 1;
  return a.seq - b.seq;
}
