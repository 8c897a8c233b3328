import { join } from "node:path";
import type { Clock } from "../clock.js";
import { maskSecrets } from "../config-addresses.js";
import type { Config } from "../config.js";
import { ensurePrivateDirSync } from "../data-dir.js";
import type { Logger } from "../logger.js";
import type { EventBus } from "./event-bus.js";
import { createSqliteEventBus } from "./event-bus-sqlite.js";
import { CHAT_EVENTS, USER_STATE_EVENTS } from "./topics.js";

/** Settings of the chat topics when the platform creates them: their retention bounds how long erased or expired bodies stay in Kafka. */
export function chatTopicConfigs(retentionMs: number): Record<string, Record<string, string>> {
  const retention = { "retention.ms": String(retentionMs) };
  return { [CHAT_EVENTS.name]: retention, [USER_STATE_EVENTS.name]: retention };
}

/**
 * The one place that picks the event bus adapter from the run mode: embedded = the SQLite log in
 * the data directory (shared by every service of the process), cluster = Kafka with the Schema
 * Registry. The choice is logged.
 */
export async function createEventBusForConfig(config: Config, logger: Logger, clock: Clock): Promise<EventBus> {
  switch (config.mode) {
    case "embedded": {
      ensurePrivateDirSync(config.dataDir);
      const path = join(config.dataDir, "bus.db");
      logger.info({ adapter: "sqlite", path }, "event bus");
      return createSqliteEventBus({ path, clock, logger, retentionMs: config.cluster.chatTopicRetentionMs });
    }
    case "cluster": {
      logger.info({ adapter: "kafka", brokers: config.cluster.kafkaBrokers, registry: maskSecrets(config.cluster.schemaRegistryUrl ?? "") }, "event bus");
      // Loaded here, not at import: the embedded mode never needs kafkajs or the registry client.
      const { createKafkaEventBus } = await import("./event-bus-kafka.js");
      return createKafkaEventBus({
        brokers: config.cluster.kafkaBrokers,
        schemaRegistryUrl: config.cluster.schemaRegistryUrl!,
        clientId: config.instanceId,
        logger,
        prefix: config.cluster.kafkaPrefix,
        replicationFactor: config.cluster.kafkaReplicationFactor,
        topicConfigs: chatTopicConfigs(config.cluster.chatTopicRetentionMs),
      });
    }
  }
}
