import type { Consumer, Kafka } from "kafkajs";
import type { Logger } from "../logger.js";

/** How long a new consumer may take to join its group before subscribing fails with an error. */
const JOIN_TIMEOUT_MS = 45_000;

/**
 * One consumer-group member of the Kafka bus, set up the same way for record and batch
 * subscriptions: connected and subscribed, a bounded wait for the group join, handler retries
 * with backoff, and a close that ends those retries.
 */
export interface KafkaConsumerHandle {
  readonly consumer: Consumer;
  /**
   * Runs `work` until it resolves, retrying a failure with backoff (heartbeating so the group
   * keeps this member), instead of throwing to kafkajs: a throw makes kafkajs restart its
   * fetchers for every partition, which on a loaded machine was seen to stall delivery for
   * minutes. After close it rethrows, so the uncommitted record comes again to the next member.
   */
  retry(context: Record<string, unknown>, message: string, work: () => Promise<void>, heartbeat: () => Promise<void>): Promise<void>;
  /** After `consumer.run`: waits for the group join (bounded), or disconnects and throws. */
  joined(): Promise<void>;
  close(): Promise<void>;
}

export async function openKafkaConsumer(kafka: Kafka, o: { topic: string; groupId: string; from: "earliest" | "latest"; logger: Logger }): Promise<KafkaConsumerHandle> {
  const consumer = kafka.consumer({
    groupId: o.groupId,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    rebalanceTimeout: 10_000,
    // Fetches return as soon as a record arrives; this only bounds how long an idle fetch
    // (and so disconnect) waits.
    maxWaitTimeInMs: 1_000,
    allowAutoTopicCreation: false,
  });
  await consumer.connect();
  await consumer.subscribe({ topic: o.topic, fromBeginning: o.from === "earliest" });
  let offJoin = () => {};
  let joinTimer: NodeJS.Timeout | undefined;
  const joined = new Promise<void>((resolve, reject) => {
    offJoin = consumer.on(consumer.events.GROUP_JOIN, () => resolve());
    // kafkajs retries a failed join on its own; this bounds the wait so a broker that never
    // lets the group form is a clear error instead of a hang.
    joinTimer = setTimeout(() => reject(new Error(`consumer group ${o.groupId} did not join ${o.topic} within ${JOIN_TIMEOUT_MS} ms`)), JOIN_TIMEOUT_MS);
  }).finally(() => {
    offJoin();
    clearTimeout(joinTimer);
  });
  joined.catch(() => {}); // awaited in joined(); never an unhandled rejection before that
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
  consumer.on(consumer.events.CRASH, (e) => o.logger.error({ err: e.payload.error, group: o.groupId, restart: e.payload.restart }, "kafka consumer crashed"));

  return {
    consumer,
    async retry(context, message, work, heartbeat) {
      for (let attempt = 0; ; attempt++) {
        try {
          await work();
          return;
        } catch (err) {
          if (stopping) throw err;
          const delay = Math.min(5_000, 50 * 2 ** Math.min(attempt, 7));
          o.logger.warn({ err, topic: o.topic, group: o.groupId, ...context, attempt, delay }, message);
          await pauseFor(delay);
          if (stopping) throw err;
          // Throws when the group is rebalancing: kafkajs rejoins and the record comes again.
          await heartbeat();
        }
      }
    },
    async joined() {
      try {
        await joined;
      } catch (err) {
        await consumer.disconnect().catch(() => {});
        throw err;
      }
    },
    async close() {
      stopping = true;
      for (const wake of [...wakers]) wake();
      await consumer.disconnect();
    },
  };
}
