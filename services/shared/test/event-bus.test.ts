import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { createSqliteEventBus } from "../src/bus/event-bus-sqlite.js";
import { createKafkaEventBus, type KafkaTraceEntry } from "../src/bus/event-bus-kafka.js";
import type { EventBus } from "../src/bus/event-bus.js";
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
    // The last kafkajs log entries (requests, responses, joins) and the bus calls in flight,
    // printed by the contract when a test fails: a stall then shows where it stood.
    const history: string[] = [];
    const remember = (line: string) => {
      history.push(`${new Date().toISOString()} ${line}`);
      if (history.length > 400) history.shift();
    };
    const trace = (e: KafkaTraceEntry) => remember(`kafkajs ${e.level} ${e.namespace}: ${e.message} ${JSON.stringify(e.extra).slice(0, 300)}`);
    // Wraps a bus (and the subscriptions it returns) so each call's start and end is remembered.
    const noted = <T extends object>(target: T, label: string): T =>
      new Proxy(target, {
        get(obj, key, receiver) {
          const value = Reflect.get(obj, key, receiver) as unknown;
          if (typeof value !== "function") return value;
          return async (...args: unknown[]) => {
            const what = `${label}.${String(key)}`;
            remember(`bus ${what} started`);
            try {
              const out = await (value as (...a: unknown[]) => Promise<unknown>).apply(obj, args);
              remember(`bus ${what} returned`);
              // Subscriptions are followed too (close, lag); plain results are returned as they are.
              const isSubscription = out !== null && typeof out === "object" && typeof (out as { close?: unknown }).close === "function";
              return isSubscription ? noted(out, what) : out;
            } catch (err) {
              remember(`bus ${what} threw ${String(err)}`);
              throw err;
            }
          };
        },
      });
    let opens = 0;
    const make = async () => {
      const label = `bus${++opens}`;
      remember(`bus ${label} opening`);
      const bus = await createKafkaEventBus({
        brokers: brokers!.split(","),
        schemaRegistryUrl: registry!,
        clientId: "contract",
        logger,
        prefix: `${RUN_PREFIX}.`,
        partitions: 3,
        trace,
      });
      remember(`bus ${label} open`);
      return noted<EventBus>(bus, label);
    };
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
      diagnostics: () => history.join("\n"),
    };
  };
  // Generous: under a loaded CI machine (two cores, the test cluster and other suites running)
  // a first group join has been seen to take tens of seconds.
  eventBusContract("kafka + schema registry (cluster)", kafkaFixture, { timeoutMs: 50_000 });
  eventBusBatchContract("kafka + schema registry (cluster)", kafkaFixture, { timeoutMs: 50_000 });
});
