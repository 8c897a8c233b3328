// Checks a 3-broker Kafka started by `CAAS_KAFKA_BROKERS_COUNT=3 tests/infra/up kafka`: three
// brokers, topics with three replicas and min.insync.replicas 2, acks=all sends (what the
// platform's producer uses, services/shared/src/bus/event-bus-kafka.ts) acknowledged with one
// broker stopped and refused with two stopped. It STOPS brokers: run it against a cluster of its
// own (another CAAS_INFRA_HOME and CAAS_INFRA_KAFKA_PORT), then `tests/infra/down kafka` there.
//   CAAS_INFRA_HOME=/tmp/k3 CAAS_KAFKA_BROKERS_COUNT=3 CAAS_INFRA_KAFKA_PORT=29092 \
//     CAAS_INFRA_KAFKA_CONTROLLER_PORT=29093 tests/infra/up kafka
//   source /tmp/k3/env && node tests/infra/kafka-replication.mjs
import { readFileSync } from "node:fs";
import { Kafka, logLevel } from "kafkajs";

const env = process.env;
const brokers = (env.CAAS_KAFKA_BROKERS ?? "").split(",").filter(Boolean);
if (brokers.length !== 3) throw new Error(`CAAS_KAFKA_BROKERS must list three brokers, has ${JSON.stringify(brokers)}`);
const home = env.CAAS_INFRA_HOME;
if (!home || home.endsWith("/.cache/caas-infra")) throw new Error("set CAAS_INFRA_HOME to the 3-broker cluster of its own (this stops brokers)");
const assert = (c, m) => {
  if (!c) throw new Error(`assertion failed: ${m}`);
};
const kafka = new Kafka({ clientId: "replication-check", brokers, logLevel: logLevel.NOTHING, retry: { retries: 3 } });
const topic = `replication-${Date.now().toString(36)}`;

const admin = kafka.admin();
await admin.connect();
const cluster = await admin.describeCluster();
assert(cluster.brokers.length === 3, `three brokers, got ${cluster.brokers.length}`);
await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
const meta = await admin.fetchTopicMetadata({ topics: [topic] });
const p0 = meta.topics[0].partitions[0];
assert(p0.replicas.length === 3 && p0.isr.length === 3, `replicas ${p0.replicas} isr ${p0.isr}`);
const cfg = await admin.describeConfigs({ resources: [{ type: 2, name: topic, configNames: ["min.insync.replicas"] }], includeSynonyms: false });
const minIsr = cfg.resources[0].configEntries.find((e) => e.configName === "min.insync.replicas")?.configValue;
assert(minIsr === "2", `min.insync.replicas ${minIsr}`);
await admin.disconnect();
console.log(`ok   3 brokers; topic ${topic}: replicas ${p0.replicas}, isr ${p0.isr}, min.insync.replicas ${minIsr}`);

const send = async (value, timeout = 10_000) => {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 2 } });
  await producer.connect();
  try {
    return await producer.send({ topic, acks: -1, timeout, messages: [{ key: "k", value }] });
  } finally {
    await producer.disconnect().catch(() => {});
  }
};
const stop = async (node) => {
  const pid = Number(readFileSync(`${home}/run/kafka/node-${node}/pid`, "utf8").trim());
  process.kill(pid, "SIGTERM");
  for (let i = 0; i < 300; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`node ${node} (pid ${pid}) still running after 60 s`);
};

await send("all three up");
console.log("ok   acks=all send acknowledged with three brokers");
await stop(3);
await send("one broker down");
console.log("ok   acks=all send acknowledged with node 3 stopped (two in-sync replicas = min.insync.replicas)");
await stop(2);
const refused = await send("two brokers down", 5_000).then(
  () => undefined,
  (e) => e,
);
assert(refused, "a send with one replica left must not be acknowledged");
console.log(`ok   acks=all send refused with nodes 2 and 3 stopped: ${refused.name}: ${String(refused.message).slice(0, 120)}`);
