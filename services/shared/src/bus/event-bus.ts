import type { DescMessage, MessageShape } from "@bufbuild/protobuf";

/** A topic and the one envelope message it carries (one envelope per topic with a oneof). */
export interface TopicSpec<Desc extends DescMessage = DescMessage> {
  /** Logical name, e.g. "caas.chat.events.v1"; adapters may prefix it (per test run). */
  name: string;
  schema: Desc;
}

/** One record on a topic. */
export interface BusRecord<Desc extends DescMessage = DescMessage> {
  /** Ordering key: records with the same key are delivered in publish order. */
  key: string;
  value: MessageShape<Desc>;
  /** String headers; always carries x-correlation-id when the producer had one. */
  headers: Record<string, string>;
}

export interface SubscribeOptions {
  /** Consumer group: each group receives every record; members of one group share them. */
  group: string;
  /** Where a group with no committed position starts: the oldest retained record, or new ones. */
  from: "earliest" | "latest";
}

export interface Subscription {
  /** Stops delivery; resolves when the in-flight handler call has finished. */
  close(): Promise<void>;
}

/** Consecutive records of one partition, in publish order. */
export interface BusBatch<Desc extends DescMessage = DescMessage> {
  /** The partition (Kafka); 0 on a log with one. */
  partition: number;
  records: BusRecord<Desc>[];
}

/** Where a consumer group stands on one partition of a topic. */
export interface PartitionLag {
  partition: number;
  /** The offset of the next record the group will apply (its committed position). */
  committedOffset: number;
  /** The offset the next published record will get. */
  endOffset: number;
  /** Records published and not yet applied by the group. */
  lagEvents: number;
  /**
   * Age of the oldest record not yet applied, in ms; 0 when none is pending, or when this process
   * does not consume the partition and cannot tell (the lag in events is exact either way).
   */
  lagMs: number;
}

/** A subscription that can say how far its group is behind. */
export interface BatchSubscription extends Subscription {
  /** The group's lag per partition of the topic, ordered by partition. */
  lag(): Promise<PartitionLag[]>;
}

export interface BatchSubscribeOptions extends SubscribeOptions {
  /** Most records in one batch (default 500). */
  maxRecords?: number;
}

/**
 * The event bus between services (embedded: a durable log in SQLite; cluster: Kafka with Schema
 * Registry protobuf).
 *
 * Delivery is at least once: a record is redelivered until its handler resolves, so handlers
 * must be idempotent (the sequenced consumer drops seqs it has). Order is per key. A handler
 * that throws is retried with backoff and blocks its key (it is never skipped silently).
 * Consumers must skip envelope cases they do not know and still return normally.
 */
export interface EventBus {
  /** Resolves once every record is durably accepted (SQLite commit; Kafka acks=all). */
  publish<Desc extends DescMessage>(topic: TopicSpec<Desc>, records: BusRecord<Desc>[]): Promise<void>;
  subscribe<Desc extends DescMessage>(topic: TopicSpec<Desc>, opts: SubscribeOptions, handler: (record: BusRecord<Desc>) => Promise<void>): Promise<Subscription>;
  /**
   * Like `subscribe`, but hands over runs of consecutive records of one partition: the batch is
   * acknowledged (its offsets committed) only after the handler resolved, and a handler that
   * throws gets the same batch again (with backoff), so a consumer that makes the whole batch
   * durable before resolving loses nothing and must tolerate a repeated batch.
   */
  subscribeBatches<Desc extends DescMessage>(topic: TopicSpec<Desc>, opts: BatchSubscribeOptions, handler: (batch: BusBatch<Desc>) => Promise<void>): Promise<BatchSubscription>;
  /**
   * Rewrites a topic's stored records in place, for erasure and retention: `rewrite` gets each
   * record (oldest first) and returns its new value, or undefined to keep it; the bytes replaced
   * are then scrubbed from the files. Only where records are stored locally (the embedded bus);
   * absent on Kafka, whose copies expire with the topic's retention. Returns the records changed.
   */
  rewriteRecords?<Desc extends DescMessage>(topic: TopicSpec<Desc>, rewrite: (value: MessageShape<Desc>, key: string) => Promise<MessageShape<Desc> | undefined>): Promise<number>;
  close(): Promise<void>;
}
