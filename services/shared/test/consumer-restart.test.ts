import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, describe, expect, it } from "vitest";
import { EventSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { ChatEventEnvelopeSchema } from "@caas/gen/caas/events/v1/chat_events_pb.js";
import { CHAT_EVENTS } from "@caas/shared/eventing/topics";
import { connectMongo } from "@caas/shared/mongo";
import { createKafkaEventBus } from "@caas/shared/eventing/kafka";
import { createLogger } from "@caas/shared/logger";
import { createMongoEventLogStore } from "@caas/shared/eventing/log-mongo";
import { createRedisClient, defineScript, type RedisClient } from "@caas/shared/redis";
import { newId } from "@caas/shared/ids";
import { OutboxRelay } from "@caas/shared/eventing/outbox-relay";
import { SequencedConsumer, type ConsumeOutcome, type PositionStore } from "@caas/shared/eventing/sequenced-consumer";
import { systemClock } from "@caas/shared/clock";
import type { BusRecord, Subscription } from "@caas/shared/eventing/bus";
import type { EventLogStore, LogEvent } from "@caas/shared/eventing/log";
import { freshTenantScope, infraEnv, RUN_PREFIX } from "@caas/shared/testing";
import { cleanUp, redisPrefix } from "@caas/shared/testing/redis";

const logger = createLogger({ service: "test", instance: "t", level: "silent" });
const mongoUrl = infraEnv("CAAS_MONGO_URL");
const brokers = infraEnv("CAAS_KAFKA_BROKERS");
const registry = infraEnv("CAAS_SCHEMA_REGISTRY_URL");
const redisUrl = infraEnv("CAAS_REDIS_URL");
const prefix = redisPrefix("consumer-restart");

/** Consumer positions in Redis (they survive the consumer process); they only move forward. */
const setMax = defineScript(`
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1]) end
return 0`);
function redisPositions(redis: RedisClient): PositionStore {
  const key = (t: string, c: string) => `${prefix}:pos:${t}:${c}`;
  return {
    get: async (t, c) => Number((await redis.get(key(t, c))) ?? 0),
    set: async (t, c, seq) => void (await redis.runScript(setMax, [key(t, c)], [seq])),
  };
}

const toRecord = (e: LogEvent): BusRecord<typeof ChatEventEnvelopeSchema> => ({
  key: e.conversationId,
  headers: { "x-correlation-id": `corr-${e.seq}` },
  value: create(ChatEventEnvelopeSchema, {
    tenantId: e.tenantId,
    conversationId: e.conversationId,
    payload: { case: "event", value: fromBinary(EventSchema, e.body) },
  }),
});

async function until(cond: () => boolean, ms: number, what: string) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const newBus = (clientId: string) => createKafkaEventBus({ brokers: brokers!.split(","), schemaRegistryUrl: registry!, clientId, logger, prefix: `${RUN_PREFIX}.`, partitions: 3 });

afterAll(() => cleanUp(prefix));

/**
 * Cluster engines: a consumer of CHAT_EVENTS (a SequencedConsumer on the Kafka bus,
 * positions in Redis) is stopped while two writers (two MongoDB clients on the FerretDB event log,
 * each with its outbox relay) keep committing, and started again as a new "process" (new Kafka
 * client, new Redis connection, new consumer object). Then a third incarnation whose consumer
 * group lost its committed offsets (as after a crash before any commit) reads the topic from the
 * start. Every event of every conversation is applied exactly once, in seq order.
 */
describe.skipIf(!mongoUrl || !brokers || !registry || !redisUrl)("consumer restart mid-burst on Kafka, FerretDB and Redis", () => {
  it("applies every committed event once, in order, across a stop mid-burst, a restart and a redelivery from the start", async () => {
    const dbName = `${RUN_PREFIX}_consumer_restart`;
    const [m1, m2] = [await connectMongo(mongoUrl!, dbName), await connectMongo(mongoUrl!, dbName)];
    const stores: EventLogStore[] = [await createMongoEventLogStore({ db: m1.db, clock: systemClock }), await createMongoEventLogStore({ db: m2.db, clock: systemClock })];
    const writerBus = await newBus("restart-writers");
    const relays = stores.map((store) => new OutboxRelay({ store, bus: writerBus, topic: CHAT_EVENTS, toRecord, clock: systemClock, logger, sweepIntervalMs: 200, sweepGraceMs: 300 }));
    relays.forEach((r) => r.start());
    const scope = freshTenantScope();
    const conversations = [newId(), newId(), newId()];
    const perConversation = 40;
    const group = `restart-${newId()}`;

    /** Every apply, by every incarnation: the evidence for "once each". */
    const applied: { conversationId: string; seq: number; incarnation: number }[] = [];
    const outcomes: ConsumeOutcome[][] = [[], [], []];
    const startConsumer = async (incarnation: number, groupName: string) => {
      const bus = await newBus(`restart-consumer-${incarnation}`);
      const redis = createRedisClient(redisUrl!);
      const consumer = new SequencedConsumer<{ tenantId: string; conversationId: string; seq: number }>({
        positions: redisPositions(redis),
        fetchAfter: async (t, c, after, limit) => (await stores[0]!.read(scope, c, after, limit)).map((e) => ({ tenantId: t, conversationId: c, seq: e.seq })),
        apply: async (e) => void applied.push({ conversationId: e.conversationId, seq: e.seq, incarnation }),
      });
      const sub: Subscription = await bus.subscribe(CHAT_EVENTS, { group: groupName, from: "earliest" }, async (r) => {
        if (r.value.payload.case !== "event" || !conversations.includes(r.value.conversationId)) return;
        outcomes[incarnation]!.push(await consumer.handle({ tenantId: r.value.tenantId, conversationId: r.value.conversationId, seq: Number(r.value.payload.value.seq) }));
      });
      return {
        async stop() {
          await sub.close();
          await bus.close();
          await redis.close();
        },
      };
    };

    let writing = true;
    try {
      const first = await startConsumer(0, group);
      // The burst: both writers commit to every conversation, paced so it spans the restart.
      const burst = (async () => {
        for (let i = 0; i < perConversation; i++) {
          await Promise.all(
            conversations.map(async (conversationId, k) => {
              const w = (i + k) % 2;
              await stores[w]!.append(scope, {
                conversationId,
                eventId: newId(),
                actorId: "alice",
                clientMessageId: `m-${i}`,
                payloadHash: `h-${i}`,
                countable: true,
                encode: ({ seq, createTimeMs }) => toBinary(EventSchema, create(EventSchema, { conversationId, seq: BigInt(seq), actorId: "alice", createTime: timestampFromMs(createTimeMs) })),
              });
              relays[w]!.notify();
            }),
          );
          await new Promise((r) => setTimeout(r, 25));
        }
        writing = false;
      })();

      // Mid-burst: the first incarnation goes away while the writers keep committing.
      await until(() => applied.length >= 20, 60_000, "20 applied before the stop");
      await first.stop();
      expect(writing).toBe(true);
      const appliedBeforeRestart = applied.length;
      const second = await startConsumer(1, group);
      await burst;
      const total = conversations.length * perConversation;
      await until(() => applied.length >= total, 60_000, `${total} applied`);
      await second.stop();

      // A crash can lose committed offsets: redelivery from the very start applies nothing again.
      const third = await startConsumer(2, `${group}-lost-offsets`);
      await until(() => outcomes[2]!.length >= total, 60_000, `${total} redelivered`);
      await third.stop();

      for (const conversationId of conversations) {
        expect(applied.filter((a) => a.conversationId === conversationId).map((a) => a.seq)).toEqual(Array.from({ length: perConversation }, (_, i) => i + 1));
      }
      expect(applied).toHaveLength(total);
      expect(appliedBeforeRestart).toBeLessThan(total);
      expect(applied.filter((a) => a.incarnation === 1).length).toBe(total - appliedBeforeRestart);
      expect(outcomes[2]!.every((o) => o === "duplicate")).toBe(true);
    } finally {
      await Promise.all(relays.map((r) => r.stop()));
      await writerBus.close();
      await Promise.all(stores.map((s) => s.close()));
      await m1.client.db(dbName).dropDatabase();
      await m1.close();
      await m2.close();
    }
  }, 240_000);
});
