import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { createSqliteEventBus } from "../src/bus/event-bus-sqlite.js";
import { createKafkaEventBus } from "../src/bus/event-bus-kafka.js";
import { CHAT_EVENTS } from "../src/bus/topics.js";
import { systemClock } from "../src/clock.js";
import { createLogger } from "../src/logger.js";
import { infraEnv, RUN_PREFIX } from "../src/testing/infra.js";
import { describe } from "vitest";
import { eventBusContract } from "./contract/event-bus.contract.js";
import { eventBusBatchContract } from "./contract/event-bus-batches.contract.js";

const logger = createLogger({ service: "test", instance: "t", level: process.env.BUS_LOG ?? "error" });
const topic = () => ({ ...CHAT_EVENTS, name: `${CHAT_EVENTS.name}.${randomUUID().slice(0, 8)}` });

const sqliteFixture = async () => {
  const path = join(mkdtempSync(join(tmpdir(), "caas-bus-")), "bus.db");
  const bus = await createSqliteEventBus({ path, clock: systemClock, logger });
  const others: { close(): Promise<void> }[] = [];
  return {
    bus,
    topic,
    // A restarted process: a new bus on the same file.
    reopen: async () => {
      await bus.close();
      const b = await createSqliteEventBus({ path, clock: systemClock, logger });
      others.push(b);
      return b;
    },
    dispose: async () => {
      await bus.close();
      for (const o of others) await o.close();
    },
  };
};
eventBusContract("sqlite (embedded)", sqliteFixture, { timeoutMs: 5_000 });
eventBusBatchContract("sqlite (embedded)", sqliteFixture, { timeoutMs: 5_000 });

const brokers = infraEnv("CAAS_KAFKA_BROKERS");
const registry = infraEnv("CAAS_SCHEMA_REGISTRY_URL");
describe.skipIf(!brokers || !registry)("kafka", () => {
  const kafkaFixture = async () => {
    const make = () =>
      createKafkaEventBus({
        brokers: brokers!.split(","),
        schemaRegistryUrl: registry!,
        clientId: "contract",
        logger,
        prefix: `${RUN_PREFIX}.`,
        partitions: 3,
      });
    const bus = await make();
    const opened: { close(): Promise<void> }[] = [bus];
    return {
      bus,
      topic,
      reopen: async () => {
        const b = await make();
        opened.push(b);
        return b;
      },
      dispose: async () => {
        for (const b of opened) await b.close();
      },
    };
  };
  // Generous: under a loaded CI machine (two cores, the test cluster and other suites running)
  // a first group join has been seen to take tens of seconds.
  eventBusContract("kafka + schema registry (cluster)", kafkaFixture, { timeoutMs: 50_000 });
  eventBusBatchContract("kafka + schema registry (cluster)", kafkaFixture, { timeoutMs: 50_000 });
});
