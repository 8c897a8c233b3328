import type { DescMessage } from "@bufbuild/protobuf";
import type { Clock } from "../clock.js";
import type { BusRecord, EventBus, TopicSpec } from "../bus/event-bus.js";
import type { Logger } from "../logger.js";
import type { EventLogStore, LogEvent } from "./event-log-store.js";

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
}

/**
 * Publishes committed events to the bus and marks them published: the outbox half of the event
 * log. `notify()` after an append publishes at once; a sweeper republishes whatever stayed
 * unpublished (a crash between commit and publish), so nothing committed is ever lost. The same
 * event may be published twice (two instances, a crash after publish but before marking):
 * consumers drop seqs they have. Within a round, each conversation's events go out in seq order.
 */
export class OutboxRelay<Desc extends DescMessage> {
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private published = 0;

  constructor(private readonly opts: OutboxRelayOptions<Desc>) {}

  /** Starts the sweeper and publishes what is pending. */
  start(): void {
    this.stopped = false;
    const every = this.opts.sweepIntervalMs ?? 1000;
    this.timer = setInterval(() => this.kick(false), every);
    this.timer.unref();
    this.kick(false);
  }

  /** Called right after a local commit: publish it now. */
  notify(): void {
    this.kick(true);
  }

  /** Total events this relay published (for metrics and tests). */
  get publishedCount(): number {
    return this.published;
  }

  /** Stops the sweeper and waits for the round in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** Runs rounds until nothing is pending (used by tests and at shutdown). */
  async flush(): Promise<void> {
    await this.running;
    await this.round(true);
  }

  private kick(fresh: boolean): void {
    if (this.stopped) return;
    if (this.running) {
      this.again ||= fresh;
      return;
    }
    this.running = (async () => {
      try {
        let includeFresh = fresh;
        do {
          this.again = false;
          await this.round(includeFresh);
          includeFresh = this.again;
        } while (this.again && !this.stopped);
      } catch (err) {
        this.opts.logger.warn({ err }, "outbox relay round failed; the sweeper retries");
      } finally {
        this.running = undefined;
      }
    })();
  }

  private async round(includeFresh: boolean): Promise<void> {
    const batch = this.opts.batchSize ?? 500;
    const grace = includeFresh ? 0 : (this.opts.sweepGraceMs ?? 2000);
    for (;;) {
      const events = await this.opts.store.unpublished(batch, this.opts.clock.nowMs() - grace);
      if (events.length === 0) return;
      await this.opts.bus.publish(
        this.opts.topic,
        events.map((e) => this.opts.toRecord(e)),
      );
      await this.opts.store.markPublished(events.map((e) => ({ tenantId: e.tenantId, conversationId: e.conversationId, seq: e.seq })));
      this.published += events.length;
      if (events.length < batch) return;
    }
  }
}
