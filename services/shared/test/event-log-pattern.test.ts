import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { EventSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { ChatEventEnvelopeSchema } from "@caas/gen/caas/events/v1/chat_events_pb.js";
import { connectMongo } from "@caas/shared/mongo";
import { createKafkaEventBus } from "@caas/shared/eventing/kafka";
import { createMongoEventLogStore } from "@caas/shared/eventing/log-mongo";
import { createSqliteEventBus } from "@caas/shared/eventing/sqlite";
import { createSqliteEventLogStore } from "@caas/shared/eventing/log-sqlite";
import { createLogger } from "@caas/shared/logger";
import { createMemoryPositionStore, SequencedConsumer } from "@caas/shared/eventing/sequenced-consumer";
import { CHAT_EVENTS } from "@caas/shared/eventing/topics";
import { newId } from "@caas/shared/ids";
import { OutboxRelay } from "@caas/shared/eventing/outbox-relay";
import { systemClock } from "@caas/shared/clock";
import type { BusRecord, EventBus } from "@caas/shared/eventing/bus";
import type { EventLogStore, LogEvent } from "@caas/shared/eventing/log";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { freshTenantScope, infraEnv, RUN_PREFIX } from "@caas/shared/testing";

const logger = createLogger({ service: "test", instance: "t", level: "silent" });

interface Pair {
  stores: [EventLogStore, EventLogStore];
  bus: EventBus;
  topic: typeof CHAT_EVENTS;
  dispose(): Promise<void>;
}

function append(store: EventLogStore, scope: TenantScope, conversationId: string, i: number) {
  return store.append(scope, {
    conversationId,
    eventId: newId(),
    actorId: "alice",
    clientMessageId: `m-${i}`,
    payloadHash: `h-${i}`,
    countable: true,
    encode: ({ seq, createTimeMs }) => toBinary(EventSchema, create(EventSchema, { conversationId, seq: BigInt(seq), actorId: "alice", createTime: timestampFromMs(createTimeMs) })),
  });
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

function patternSuite(name: string, make: () => Promise<Pair>, timeoutMs: number) {
  describe(`event log pattern: ${name}`, () => {
    it(
      "relays every committed event once per consumer, in seq order, through two writers, a crash and a consumer restart",
      async () => {
        const pair = await make();
        const scope = freshTenantScope();
        const conv = newId();
        try {
          const [a, b] = pair.stores;
          // Writer A relays at once; writer B "crashes" after committing (never notifies its relay).
          const relayA = new OutboxRelay({ store: a, bus: pair.bus, topic: pair.topic, toRecord, clock: systemClock, logger, sweepIntervalMs: 200, sweepGraceMs: 300 });
          relayA.start();
          const applied: number[] = [];
          const positions = createMemoryPositionStore();
          const consumer = new SequencedConsumer<{ tenantId: string; conversationId: string; seq: number }>({
            positions,
            fetchAfter: async (t, c, after, limit) => (await a.read(scope, c, after, limit)).map((e) => ({ tenantId: t, conversationId: c, seq: e.seq })),
            apply: async (e) => void applied.push(e.seq),
          });
          const handle = async (r: BusRecord<typeof ChatEventEnvelopeSchema>) => {
            if (r.value.payload.case !== "event" || r.value.conversationId !== conv) return;
            await consumer.handle({ tenantId: r.value.tenantId, conversationId: r.value.conversationId, seq: Number(r.value.payload.value.seq) });
          };
          let sub = await pair.bus.subscribe(pair.topic, { group: `pattern-${conv}`, from: "earliest" }, handle);

          const writes: Promise<unknown>[] = [];
          for (let i = 0; i < 60; i++) {
            const store = i % 2 === 0 ? a : b;
            // A hands each commit to its relay, which publishes it without reading the store.
            writes.push(append(store, scope, conv, i).then((r) => (store === a ? relayA.notify(r.event) : undefined)));
            if (i === 30) {
              // The consumer goes away mid-burst and comes back: nothing lost, nothing applied twice.
              await Promise.all(writes);
              await sub.close();
              sub = await pair.bus.subscribe(pair.topic, { group: `pattern-${conv}`, from: "earliest" }, handle);
            }
          }
          await Promise.all(writes);
          // B's events only reach the bus through A's sweeper (after the grace period).
          await until(() => applied.length >= 60, timeoutMs, "60 applied events");
          expect(applied).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
          // The consumer may have filled B's events from the store before the sweeper published
          // them; the outbox still drains completely.
          let left = await a.unpublished(100, Date.now() + 1000);
          for (let i = 0; left.length > 0 && i < 100; i++) {
            await new Promise((r) => setTimeout(r, 100));
            left = await a.unpublished(100, Date.now() + 1000);
          }
          expect(left).toEqual([]);
          await sub.close();
          await relayA.stop();
        } finally {
          await pair.dispose();
        }
      },
      timeoutMs * 2,
    );

    it(
      "publishes a handed-over commit without reading the store; one whose publish failed is published by the sweeper",
      async () => {
        const pair = await make();
        const scope = freshTenantScope();
        const conv = newId();
        try {
          const [a] = pair.stores;
          let reads = 0;
          let failNext = true;
          const store: EventLogStore = { ...a, unpublished: (...args) => (reads++, a.unpublished(...args)) };
          const bus = new Proxy(pair.bus, {
            get(t, k) {
              if (k !== "publish") {
                const v: unknown = Reflect.get(t, k);
                return typeof v === "function" ? (v.bind(t) as unknown) : v;
              }
              return async (...args: Parameters<EventBus["publish"]>) => {
                if (failNext) {
                  failNext = false;
                  throw new Error("the bus is down for one publish");
                }
                return t.publish(...args);
              };
            },
          });
          const relay = new OutboxRelay({ store, bus, topic: pair.topic, toRecord, clock: systemClock, logger, sweepIntervalMs: 100, sweepGraceMs: 300 });
          const seen: number[] = [];
          const sub = await pair.bus.subscribe(pair.topic, { group: `handed-${conv}`, from: "earliest" }, async (r) => {
            if (r.value.conversationId === conv && r.value.payload.case === "event") seen.push(Number(r.value.payload.value.seq));
          });
          relay.notify((await append(a, scope, conv, 0)).event);
          await until(() => !failNext, timeoutMs, "the failed publish");
          relay.notify((await append(a, scope, conv, 1)).event);
          await until(() => seen.includes(2), timeoutMs, "seq 2 published");
          expect(reads).toBe(0);
          expect(seen).toEqual([2]);
          // The sweeper finds seq 1 unpublished in the store once the grace is over.
          relay.start();
          await until(() => seen.includes(1), timeoutMs, "seq 1 published by the sweeper");
          expect(reads).toBeGreaterThan(0);
          await relay.stop();
          // Both are marked published (the handed-over one by the relay's deferred mark).
          expect((await a.unpublished(100, Date.now() + 1000)).filter((e) => e.conversationId === conv)).toEqual([]);
          await sub.close();
        } finally {
          await pair.dispose();
        }
      },
      timeoutMs * 2,
    );
  });
}

patternSuite(
  "sqlite store + sqlite bus (embedded)",
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "caas-pattern-"));
    const path = join(dir, "chat.db");
    const a = await createSqliteEventLogStore({ path, clock: systemClock });
    const b = await createSqliteEventLogStore({ path, clock: systemClock });
    const bus = await createSqliteEventBus({ path: join(dir, "bus.db"), clock: systemClock, logger });
    return {
      stores: [a, b],
      bus,
      topic: CHAT_EVENTS,
      dispose: async () => {
        await bus.close();
        await a.close();
        await b.close();
      },
    };
  },
  10_000,
);

const mongoUrl = infraEnv("CAAS_MONGO_URL");
const brokers = infraEnv("CAAS_KAFKA_BROKERS");
const registry = infraEnv("CAAS_SCHEMA_REGISTRY_URL");
describe.skipIf(!mongoUrl || !brokers || !registry)("cluster engines", () => {
  patternSuite(
    "mongo store (two clients) + kafka bus (cluster)",
    async () => {
      const dbName = `${RUN_PREFIX}_pattern`;
      const c1 = await connectMongo(mongoUrl!, dbName);
      const c2 = await connectMongo(mongoUrl!, dbName);
      const a = await createMongoEventLogStore({ db: c1.db, clock: systemClock });
      const b = await createMongoEventLogStore({ db: c2.db, clock: systemClock });
      const bus = await createKafkaEventBus({ brokers: brokers!.split(","), schemaRegistryUrl: registry!, clientId: "pattern", logger, prefix: `${RUN_PREFIX}.`, partitions: 3 });
      return {
        stores: [a, b],
        bus,
        topic: CHAT_EVENTS,
        dispose: async () => {
          await bus.close();
          await a.close();
          await b.close();
          await c1.client.db(dbName).dropDatabase();
          await c1.close();
          await c2.close();
        },
      };
    },
    40_000,
  );
});
