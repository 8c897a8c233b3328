import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { chatTopicConfigs } from "../src/bus/bus-factory.js";
import { CHAT_EVENTS } from "../src/bus/topics.js";
import { createLogger } from "../src/logger.js";
import { infraEnv, RUN_PREFIX } from "../src/testing/infra.js";

const logger = createLogger({ service: "test", instance: "t", level: "error" });
const brokers = infraEnv("CAAS_KAFKA_BROKERS");
const registry = infraEnv("CAAS_SCHEMA_REGISTRY_URL");

describe.skipIf(!brokers || !registry)("chat topic retention on Kafka (cluster)", () => {
  it("creates the chat topics with the configured retention.ms and other topics with the broker's default", async () => {
    const [{ createKafkaEventBus }, { Kafka, ConfigResourceTypes }] = await Promise.all([import("../src/bus/event-bus-kafka.js"), import("kafkajs")]);
    const prefix = `${RUN_PREFIX}.retention.${randomUUID().slice(0, 8)}.`;
    const bus = await createKafkaEventBus({
      brokers: brokers!.split(","),
      schemaRegistryUrl: registry!,
      clientId: "retention",
      logger,
      prefix,
      partitions: 1,
      topicConfigs: chatTopicConfigs(3_600_000),
    });
    const other = { ...CHAT_EVENTS, name: "caas.other.events.v1" };
    const admin = new Kafka({ clientId: "retention-check", brokers: brokers!.split(",") }).admin();
    await admin.connect();
    try {
      for (const topic of [CHAT_EVENTS, other]) await (await bus.subscribe(topic, { group: "retention-check", from: "latest" }, async () => {})).close();
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [CHAT_EVENTS.name, other.name].map((name) => ({ type: ConfigResourceTypes.TOPIC, name: prefix + name, configNames: ["retention.ms"] })),
      });
      const retention = Object.fromEntries(resources.map((r) => [r.resourceName.slice(prefix.length), r.configEntries.find((e) => e.configName === "retention.ms")]));
      expect(retention[CHAT_EVENTS.name]).toMatchObject({ configValue: "3600000", isDefault: false });
      expect(retention[other.name]?.isDefault).toBe(true);
    } finally {
      await admin.disconnect();
      await bus.close();
    }
  }, 120_000);
});
