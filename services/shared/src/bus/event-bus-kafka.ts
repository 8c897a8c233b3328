import type { DescMessage } from "@bufbuild/protobuf";
import { Kafka, logLevel, type Admin, type KafkaMessage, type Producer } from "kafkajs";
import type { Logger } from "../logger.js";
import { applied as idleTimerFixed } from "./kafkajs-idle-timer.js";
import { createRegistryCodec } from "./schema-registry-codec.js";
import { openKafkaConsumer } from "./kafka-consumer.js";
import type { BatchSubscribeOptions, BatchSubscription, BusBatch, BusRecord, EventBus, PartitionLag, SubscribeOptions, Subscription, TopicSpec } from "./event-bus.js";

export interface KafkaEventBusOptions {
  brokers: string[];
  /** Confluent-compatible Schema Registry base URL (Apicurio: .../apis/ccompat/v7). */
  schemaRegistryUrl: string;
  clientId: string;
  logger: Logger;
  /** Prepended to topic and group names (per test run on shared servers); "" in production. */
  prefix?: string;
  /** Partitions for topics this bus creates (default 6). */
  partitions?: number;
  /** Replication factor for topics this bus creates (default 1; 3 in docker-compose). */
  replicationFactor?: number;
  /**
   * Receives every kafkajs log entry down to DEBUG (requests, responses, joins), for tests that
   * print the recent protocol history when something stalls. Warnings and errors still reach
   * the logger.
   */
  trace?: (entry: KafkaTraceEntry) => void;
  /** Topic-level settings (e.g. retention.ms) of topics this bus creates, by topic name without the prefix. */
  topicConfigs?: Record<string, Record<string, string>>;
}

/** One kafkajs log entry, as `KafkaEventBusOptions.trace` receives it. */
export interface KafkaTraceEntry {
  level: "error" | "warn" | "info" | "debug";
  namespace: string;
  message: string;
  extra: Record<string, unknown>;
}

const LEVEL_NAMES: Record<number, KafkaTraceEntry["level"]> = { [logLevel.ERROR]: "error", [logLevel.WARN]: "warn", [logLevel.INFO]: "info", [logLevel.DEBUG]: "debug" };

/**
 * The cluster event bus: Kafka through kafkajs, values in Schema Registry protobuf framing
 * (magic byte, schema id, message indexes) written by @confluentinc/schemaregistry's
 * ProtobufSerializer, which registers the envelope's schema (with its imports as references)
 * under the topic's value subject on first use.
 *
 * Reading: the writer schema is looked up in the registry by the record's schema id and must be
 * the topic's envelope type; the payload is then decoded with this build's compiled schema (the
 * reader schema), so fields a newer producer added are kept as unknown fields, never an error.
 * A record whose writer type is wrong fails its handler (and is retried), never silently
 * decoded as something else.
 *
 * Producer: acks=all, idempotent, records keyed so one key stays on one partition (per-key
 * order). Consumer: classic consumer groups; the offset is committed after the handler resolved,
 * a throwing handler is retried on the same record with backoff — at least once.
 */
const TOPIC_READY_TIMEOUT_MS = 60_000;

export async function createKafkaEventBus(opts: KafkaEventBusOptions): Promise<EventBus> {
  const prefix = opts.prefix ?? "";
  const kafka = new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers,
    logLevel: opts.trace ? logLevel.DEBUG : logLevel.WARN,
    logCreator:
      () =>
      ({ namespace, level, log }) => {
        const { message, ...rest } = log;
        opts.trace?.({ level: LEVEL_NAMES[level] ?? "debug", namespace, message, extra: rest });
        if (level <= logLevel.ERROR) opts.logger.error({ kafka: rest }, message);
        else if (level === logLevel.WARN) opts.logger.warn({ kafka: rest }, message);
      },
    retry: { retries: 8, initialRetryTime: 200 },
  });
  const codec = createRegistryCodec(opts.schemaRegistryUrl);

  if (!idleTimerFixed) opts.logger.warn("kafkajs changed shape: its idle 1 ms check loop is still running (see kafkajs-idle-timer.ts)");
  const admin: Admin = kafka.admin();
  await admin.connect();
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();

  const configEntriesOf = (name: string) => Object.entries(opts.topicConfigs?.[name.slice(prefix.length)] ?? {}).map(([key, value]) => ({ name: key, value }));
  const ensured = new Map<string, Promise<void>>();
  /**
   * Creates a topic if it is missing and waits until every partition has a leader. Several
   * processes start at once and race to create the same topics: "already exists", "not the
   * leader / does not host this partition" and timeouts are normal then, so they are retried
   * with backoff until the topic's metadata is complete (bounded; the last error is rethrown).
   */
  const createAndAwait = async (name: string): Promise<void> => {
    let lastError: unknown;
    // Bounded by time, not attempts: on a loaded single-node broker, leader election for a new
    // topic has been seen to take tens of seconds.
    const deadline = Date.now() + TOPIC_READY_TIMEOUT_MS;
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      try {
        await admin.createTopics({
          waitForLeaders: true,
          topics: [{ topic: name, numPartitions: opts.partitions ?? 6, replicationFactor: opts.replicationFactor ?? 1, configEntries: configEntriesOf(name) }],
        });
      } catch (err) {
        lastError = err; // another process may be creating it right now: check the metadata below
      }
      try {
        const { topics } = await admin.fetchTopicMetadata({ topics: [name] });
        const partitions = topics[0]?.partitions ?? [];
        if (partitions.length > 0 && partitions.every((p) => p.leader >= 0)) return;
      } catch (err) {
        lastError = err;
      }
      await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** attempt)));
    }
    throw lastError instanceof Error ? lastError : new Error(`topic ${name} did not become ready`);
  };
  const ensureTopic = (name: string) => {
    let p = ensured.get(name);
    if (!p) {
      p = createAndAwait(name);
      ensured.set(name, p);
      p.catch(() => ensured.delete(name));
    }
    return p;
  };

  const subscriptions = new Set<Subscription>();

  return {
    async publish<Desc extends DescMessage>(topic: TopicSpec<Desc>, records: BusRecord<Desc>[]) {
      const name = prefix + topic.name;
      await ensureTopic(name);
      const messages = await Promise.all(
        records.map(async (r) => ({
          key: r.key,
          value: await codec.serialize(name, topic.schema, r.value),
          headers: r.headers,
        })),
      );
      await producer.send({ topic: name, acks: -1, messages });
    },

    async subscribe<Desc extends DescMessage>(topic: TopicSpec<Desc>, sub: SubscribeOptions, handler: (record: BusRecord<Desc>) => Promise<void>): Promise<Subscription> {
      const name = prefix + topic.name;
      await ensureTopic(name);
      const member = await openKafkaConsumer(kafka, { topic: name, groupId: prefix + sub.group, from: sub.from, logger: opts.logger });
      await member.consumer.run({
        autoCommit: true,
        eachMessage: async (payload) => {
          const { message, partition } = payload;
          if (!message.value) return;
          await member.retry(
            { partition, offset: message.offset },
            "consumer failed; retrying",
            async () => handler(await recordOf(name, topic.schema, message)),
            () => payload.heartbeat(),
          );
        },
      });
      await member.joined();
      const subscription: Subscription = {
        async close() {
          subscriptions.delete(subscription);
          await member.close();
        },
      };
      subscriptions.add(subscription);
      return subscription;
    },

    async subscribeBatches<Desc extends DescMessage>(topic: TopicSpec<Desc>, sub: BatchSubscribeOptions, handler: (batch: BusBatch<Desc>) => Promise<void>): Promise<BatchSubscription> {
      const name = prefix + topic.name;
      const groupId = prefix + sub.group;
      await ensureTopic(name);
      const maxRecords = sub.maxRecords ?? 500;
      const member = await openKafkaConsumer(kafka, { topic: name, groupId, from: sub.from, logger: opts.logger });
      // Publish time of the first record in flight, and of the last applied one, per partition (lag()).
      const inFlightSince = new Map<number, number>();
      const appliedUpTo = new Map<number, number>();
      await member.consumer.run({
        autoCommit: true,
        eachBatchAutoResolve: false,
        eachBatch: async (run) => {
          const { batch } = run;
          const isRunning = () => run.isRunning();
          const isStale = () => run.isStale();
          const heartbeat = () => run.heartbeat();
          const messages = batch.messages.filter((m) => m.value);
          for (let i = 0; i < messages.length && isRunning() && !isStale(); i += maxRecords) {
            const slice = messages.slice(i, i + maxRecords);
            inFlightSince.set(batch.partition, Number(slice[0]!.timestamp));
            await member.retry(
              { partition: batch.partition, offset: slice[0]!.offset },
              "consumer failed; retrying the batch",
              async () => handler({ partition: batch.partition, records: await Promise.all(slice.map((m) => recordOf(name, topic.schema, m))) }),
              heartbeat,
            );
            // Acknowledged only after the handler resolved for the whole slice.
            const last = slice[slice.length - 1]!;
            run.resolveOffset(last.offset);
            appliedUpTo.set(batch.partition, Number(last.timestamp));
            inFlightSince.delete(batch.partition);
            await run.commitOffsetsIfNecessary();
            await heartbeat();
          }
          // Records without a value (tombstones) are skipped but acknowledged too.
          if (isRunning() && !isStale() && batch.messages.length > 0) run.resolveOffset(batch.lastOffset());
        },
      });
      await member.joined();
      const subscription: BatchSubscription = {
        async close() {
          subscriptions.delete(subscription);
          await member.close();
        },
        async lag(): Promise<PartitionLag[]> {
          const [ends, [committed]] = await Promise.all([admin.fetchTopicOffsets(name), admin.fetchOffsets({ groupId, topics: [name] })]);
          const now = Date.now();
          return ends
            .map((e) => {
              const c = Number(committed?.partitions.find((p) => p.partition === e.partition)?.offset ?? -1);
              const committedOffset = c >= 0 ? c : Number(e.low);
              const endOffset = Number(e.high);
              const lagEvents = Math.max(0, endOffset - committedOffset);
              const since = inFlightSince.get(e.partition) ?? appliedUpTo.get(e.partition);
              return { partition: e.partition, committedOffset, endOffset, lagEvents, lagMs: lagEvents > 0 && since !== undefined ? Math.max(0, now - since) : 0 };
            })
            .sort((a, b) => a.partition - b.partition);
        },
      };
      subscriptions.add(subscription);
      return subscription;
    },

    async close() {
      await Promise.all([...subscriptions].map((s) => s.close()));
      await producer.disconnect();
      await admin.disconnect();
    },
  };

  /** A Kafka message as a bus record (value decoded, headers as strings). */
  async function recordOf<Desc extends DescMessage>(topicName: string, schema: Desc, message: KafkaMessage): Promise<BusRecord<Desc>> {
    const value = await codec.decode(topicName, schema, message.value!);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(message.headers ?? {})) {
      if (v !== undefined) headers[k] = Array.isArray(v) ? String(v[0]) : String(v);
    }
    return { key: message.key?.toString("utf8") ?? "", value, headers };
  }
}
