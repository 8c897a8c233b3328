import { createMutableRegistry, fromBinary, type DescMessage } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { ProtobufSerializer, SchemaId, SchemaRegistryClient, SerdeType, type Client as SchemaRegistry } from "@confluentinc/schemaregistry";
import { Kafka, logLevel, type Admin, type KafkaMessage, type Producer } from "kafkajs";
import type { Logger } from "../logger.js";
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
  /** Topic-level settings (e.g. retention.ms) of topics this bus creates, by topic name without the prefix. */
  topicConfigs?: Record<string, Record<string, string>>;
}

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
const JOIN_TIMEOUT_MS = 45_000;
const TOPIC_READY_TIMEOUT_MS = 60_000;

export async function createKafkaEventBus(opts: KafkaEventBusOptions): Promise<EventBus> {
  const prefix = opts.prefix ?? "";
  const kafka = new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }) => {
        const { message, ...rest } = log;
        if (level <= logLevel.ERROR) opts.logger.error({ kafka: rest }, message);
        else if (level === logLevel.WARN) opts.logger.warn({ kafka: rest }, message);
      },
    retry: { retries: 8, initialRetryTime: 200 },
  });
  const registry: SchemaRegistry = SchemaRegistryClient.newClient({ baseURLs: [opts.schemaRegistryUrl] });
  const types = createMutableRegistry();
  const serializer = new ProtobufSerializer(registry, SerdeType.VALUE, { autoRegisterSchemas: true, registry: types });
  const writerTypes = new Map<string, string>();

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
      if (!types.getMessage(topic.schema.typeName)) types.add(topic.schema);
      const messages = await Promise.all(
        records.map(async (r) => ({
          key: r.key,
          value: await serializer.serialize(name, r.value),
          headers: r.headers,
        })),
      );
      await producer.send({ topic: name, acks: -1, messages });
    },

    async subscribe<Desc extends DescMessage>(topic: TopicSpec<Desc>, sub: SubscribeOptions, handler: (record: BusRecord<Desc>) => Promise<void>): Promise<Subscription> {
      const name = prefix + topic.name;
      await ensureTopic(name);
      const consumer = kafka.consumer({
        groupId: prefix + sub.group,
        sessionTimeout: 10_000,
        heartbeatInterval: 1_000,
        rebalanceTimeout: 10_000,
        // Fetches return as soon as a record arrives; this only bounds how long an idle fetch
        // (and so disconnect) waits.
        maxWaitTimeInMs: 1_000,
        allowAutoTopicCreation: false,
      });
      await consumer.connect();
      await consumer.subscribe({ topic: name, fromBeginning: sub.from === "earliest" });
      let offJoin = () => {};
      let joinTimer: NodeJS.Timeout | undefined;
      const joined = new Promise<void>((resolve, reject) => {
        offJoin = consumer.on(consumer.events.GROUP_JOIN, () => resolve());
        // kafkajs retries a failed join on its own; this bounds the wait so a broker that never
        // lets the group form is a clear error instead of a hang.
        joinTimer = setTimeout(() => reject(new Error(`consumer group ${prefix + sub.group} did not join ${name} within ${JOIN_TIMEOUT_MS} ms`)), JOIN_TIMEOUT_MS);
      }).finally(() => {
        offJoin();
        clearTimeout(joinTimer);
      });
      // A failed handler is retried here, on the same record, with backoff (heartbeating so the
      // group keeps this member), rather than thrown to kafkajs: a throw makes kafkajs restart its
      // fetchers for every partition, which on a loaded machine has been seen to stall delivery
      // for minutes. Close ends the retries; the record was not committed and is redelivered.
      let stopping = false;
      const wakers = new Set<() => void>();
      const pauseFor = (ms: number) =>
        new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(t);
            wakers.delete(wake);
            resolve();
          };
          const t = setTimeout(wake, ms);
          wakers.add(wake);
        });
      await consumer.run({
        autoCommit: true,
        eachMessage: async (payload) => {
          const { message, partition } = payload;
          if (!message.value) return;
          for (let attempt = 0; ; attempt++) {
            try {
              await handler(await recordOf(name, topic.schema, message));
              return;
            } catch (err) {
              if (stopping) throw err;
              const delay = Math.min(5_000, 50 * 2 ** Math.min(attempt, 7));
              opts.logger.warn({ err, topic: name, group: prefix + sub.group, partition, offset: message.offset, attempt, delay }, "consumer failed; retrying");
              await pauseFor(delay);
              if (stopping) throw err;
              // Throws when the group is rebalancing: kafkajs rejoins and the record comes again.
              await payload.heartbeat();
            }
          }
        },
      });
      consumer.on(consumer.events.CRASH, (e) => opts.logger.error({ err: e.payload.error, group: prefix + sub.group, restart: e.payload.restart }, "kafka consumer crashed"));
      try {
        await joined;
      } catch (err) {
        await consumer.disconnect().catch(() => {});
        throw err;
      }
      const subscription: Subscription = {
        async close() {
          stopping = true;
          for (const wake of [...wakers]) wake();
          subscriptions.delete(subscription);
          await consumer.disconnect();
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
      const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000, rebalanceTimeout: 10_000, maxWaitTimeInMs: 1_000, allowAutoTopicCreation: false });
      await consumer.connect();
      await consumer.subscribe({ topic: name, fromBeginning: sub.from === "earliest" });
      let stopping = false;
      const wakers = new Set<() => void>();
      const pauseFor = (ms: number) =>
        new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(t);
            wakers.delete(wake);
            resolve();
          };
          const t = setTimeout(wake, ms);
          wakers.add(wake);
        });
      // Publish time of the first record in flight, and of the last applied one, per partition (lag()).
      const inFlightSince = new Map<number, number>();
      const appliedUpTo = new Map<number, number>();
      const joined = new Promise<void>((resolve, reject) => {
        const off = consumer.on(consumer.events.GROUP_JOIN, () => {
          off();
          clearTimeout(timer);
          resolve();
        });
        const timer = setTimeout(() => reject(new Error(`consumer group ${groupId} did not join ${name} within ${JOIN_TIMEOUT_MS} ms`)), JOIN_TIMEOUT_MS);
      });
      await consumer.run({
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
            for (let attempt = 0; ; attempt++) {
              try {
                const records = await Promise.all(slice.map((m) => recordOf(name, topic.schema, m)));
                await handler({ partition: batch.partition, records });
                break;
              } catch (err) {
                if (stopping) throw err;
                const delay = Math.min(5_000, 50 * 2 ** Math.min(attempt, 7));
                opts.logger.warn({ err, topic: name, group: groupId, partition: batch.partition, offset: slice[0]!.offset, attempt, delay }, "consumer failed; retrying the batch");
                await pauseFor(delay);
                if (stopping) throw err;
                await heartbeat();
              }
            }
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
      consumer.on(consumer.events.CRASH, (e) => opts.logger.error({ err: e.payload.error, group: groupId, restart: e.payload.restart }, "kafka consumer crashed"));
      try {
        await joined;
      } catch (err) {
        await consumer.disconnect().catch(() => {});
        throw err;
      }
      const subscription: BatchSubscription = {
        async close() {
          stopping = true;
          for (const wake of [...wakers]) wake();
          subscriptions.delete(subscription);
          await consumer.disconnect();
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
    const value = await decode(topicName, schema, message.value!);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(message.headers ?? {})) {
      if (v !== undefined) headers[k] = Array.isArray(v) ? String(v[0]) : String(v);
    }
    return { key: message.key?.toString("utf8") ?? "", value, headers };
  }

  /**
   * Reads the Confluent framing, checks in the registry that the writer's message type is the
   * topic's envelope, and decodes with the compiled (reader) schema. The writer's file is read
   * in its stored form (base64 FileDescriptorProto) and not resolved with its references: that
   * is all the type check needs, and it avoids Apicurio's `format=serialized` conversion, which
   * fails on descriptors registered in binary form (docs/decisions/0004-kafka-schema-registry.md).
   */
  async function decode<Desc extends DescMessage>(topicName: string, schema: Desc, payload: Buffer) {
    const id = new SchemaId("PROTOBUF");
    const bytesRead = id.fromBytes(payload);
    if (id.id === undefined) throw new Error(`record on ${topicName} has no schema id`);
    const typeName = await writerTypeName(`${topicName}-value`, id.id, id.messageIndexes ?? [0]);
    if (typeName !== schema.typeName) {
      throw new Error(`topic ${topicName} carries ${typeName}, expected ${schema.typeName}`);
    }
    return fromBinary(schema, payload.subarray(bytesRead), { readUnknownFields: true });
  }

  async function writerTypeName(subject: string, schemaId: number, indexes: number[]): Promise<string> {
    const cacheKey = `${schemaId}:${indexes.join(".")}`;
    let name = writerTypes.get(cacheKey);
    if (name === undefined) {
      const info = await registry.getBySubjectAndId(subject, schemaId);
      const file = fromBinary(FileDescriptorProtoSchema, Buffer.from(info.schema, "base64"));
      let messages = file.messageType;
      const path: string[] = [];
      for (const index of indexes) {
        const m = messages[index];
        if (!m) throw new Error(`schema ${schemaId} has no message at index path ${indexes.join(".")}`);
        path.push(m.name);
        messages = m.nestedType;
      }
      name = [file.package, ...path].filter(Boolean).join(".");
      writerTypes.set(cacheKey, name);
    }
    return name;
  }
}
