// Smoke test of the servers started by tests/infra/up, with the client libraries the project
// uses (same versions as package.json). Run from the repo root after `npm ci`:
//   tests/infra/up && source "${CAAS_INFRA_HOME:-$HOME/.cache/caas-infra}/env" && node tests/infra/smoke.mjs
// Prints one ok/FAIL line per server and "N passed, N failed"; exits non-zero on a failure.
// Needs all servers except grpcurl (run `tests/infra/up` without arguments).
import { Kafka, logLevel } from "kafkajs";
import { MongoClient } from "mongodb";
import Redis from "ioredis";
import { SchemaRegistryClient } from "@confluentinc/schemaregistry";
import { Client as ESClient } from "@elastic/elasticsearch";
import * as Minio from "minio";

const env = process.env;
env.KAFKAJS_NO_PARTITIONER_WARNING ??= "1";
const run = Date.now().toString(36);
let passed = 0,
  failed = 0;
async function check(name, fn) {
  const t0 = Date.now();
  try {
    const info = await fn();
    passed++;
    console.log(`ok   ${name} (${Date.now() - t0} ms)${info ? " - " + info : ""}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name} (${Date.now() - t0} ms): ${e?.stack ?? e}`);
  }
}
function assert(c, m) {
  if (!c) throw new Error("assertion failed: " + m);
}

await check("kafka produce/consume with a consumer group (kafkajs 2.2.4)", async () => {
  const kafka = new Kafka({ clientId: "verify", brokers: env.CAAS_KAFKA_BROKERS.split(","), logLevel: logLevel.NOTHING }); // its transient retry errors are noise here
  const topic = `verify-${run}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: [{ key: "k", value: "hello " + run }] });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: `g-${run}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got = await new Promise((resolve, reject) => {
    const to = setTimeout(() => reject(new Error("no message within 30s")), 30000);
    consumer.run({
      eachMessage: async ({ message }) => {
        clearTimeout(to);
        resolve(message.value.toString());
      },
    });
  });
  await consumer.disconnect();
  assert(got === "hello " + run, "got " + got);
  // auto-created topic too
  const p2 = kafka.producer({ allowAutoTopicCreation: true });
  await p2.connect();
  await p2.send({ topic: `auto-${run}`, messages: [{ value: "x" }] });
  await p2.disconnect();
  return `topic ${topic}, consumed "${got}"; auto-create ok`;
});

await check("mongo insert/find + unique index (mongodb 7.9.0 -> FerretDB)", async () => {
  const c = new MongoClient(env.CAAS_MONGO_URL, { serverSelectionTimeoutMS: 5000 });
  await c.connect();
  const col = c.db("verify").collection(`c_${run}`);
  await col.createIndex({ email: 1 }, { unique: true });
  await col.insertOne({ email: "a@x", n: 1 });
  const doc = await col.findOne({ email: "a@x" });
  assert(doc?.n === 1, "findOne");
  let dupCode;
  try {
    await col.insertOne({ email: "a@x", n: 2 });
  } catch (e) {
    dupCode = e.code;
  }
  assert(dupCode === 11000, "duplicate should fail with 11000, got " + dupCode);
  const r = await col.findOneAndUpdate({ email: "a@x" }, { $inc: { n: 1 } }, { returnDocument: "after" });
  assert(r?.n === 2, "findOneAndUpdate $inc");
  const hello = await c.db("admin").command({ buildInfo: 1 });
  await col.drop();
  await c.close();
  return `dup rejected with E11000; server reports version ${hello.version} (${hello.ferretdbVersion ?? ""})`;
});

await check("redis SET/GET + EVAL (ioredis 6.0.0)", async () => {
  const r = new Redis(env.CAAS_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 2 });
  await r.connect();
  await r.set(`k:${run}`, "v1");
  assert((await r.get(`k:${run}`)) === "v1", "get");
  const n = await r.eval("redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCRBY', KEYS[2], 5)", 2, `a:${run}`, `cnt:${run}`, "x");
  assert(n === 5, "eval returned " + n);
  const info = await r.info("server");
  await r.quit();
  return "redis " + /redis_version:(\S+)/.exec(info)[1];
});

await check("schema registry register + getLatest PROTOBUF (@confluentinc/schemaregistry 1.10.1 -> Apicurio ccompat)", async () => {
  const sr = SchemaRegistryClient.newClient({ baseURLs: [env.CAAS_SCHEMA_REGISTRY_URL] });
  const subject = `verify-${run}-value`;
  const schema = 'syntax = "proto3"; package t; message M { string a = 1; }';
  const id = await sr.register(subject, { schemaType: "PROTOBUF", schema });
  const latest = await sr.getLatestSchemaMetadata(subject);
  assert(latest.id === id && latest.version === 1 && latest.schemaType === "PROTOBUF", JSON.stringify(latest));
  // a fresh client (no cache) looks the schema up by content and by id
  const sr2 = SchemaRegistryClient.newClient({ baseURLs: [env.CAAS_SCHEMA_REGISTRY_URL] });
  const id2 = await sr2.getId(subject, { schemaType: "PROTOBUF", schema });
  const byId = await sr2.getBySubjectAndId(subject, id);
  assert(id2 === id && byId.schema.includes("message M"), "lookup");
  const subjects = await sr2.getAllSubjects();
  assert(subjects.includes(subject), "subjects");
  return `id ${id}, latest v${latest.version}`;
});

await check("elasticsearch index + search (@elastic/elasticsearch 9.4.0)", async () => {
  const es = new ESClient({ node: env.CAAS_ELASTICSEARCH_URL });
  const index = `verify-${run}`;
  await es.indices.create({ index, mappings: { properties: { body: { type: "text" }, room: { type: "keyword" } } } });
  await es.index({ index, id: "1", document: { body: "hello searchable world", room: "r1" }, refresh: "wait_for" });
  const res = await es.search({ index, query: { bool: { must: { match: { body: "searchable" } }, filter: { term: { room: "r1" } } } } });
  assert(res.hits.hits.length === 1 && res.hits.hits[0]._id === "1", JSON.stringify(res.hits));
  const info = await es.cluster.health();
  await es.indices.delete({ index });
  return `1 hit; cluster ${info.cluster_name} ${info.status}`;
});

await check("S3 makeBucket + presignedPutObject + HTTP PUT + getObject (minio 8.0.7 -> versitygw)", async () => {
  const u = new URL(env.CAAS_S3_ENDPOINT);
  const mc = new Minio.Client({
    endPoint: u.hostname,
    port: Number(u.port),
    useSSL: false,
    accessKey: env.CAAS_S3_ACCESS_KEY,
    secretKey: env.CAAS_S3_SECRET_KEY,
    region: env.CAAS_S3_REGION,
    pathStyle: true,
  });
  const bucket = `verify-${run}`;
  await mc.makeBucket(bucket, env.CAAS_S3_REGION);
  const url = await mc.presignedPutObject(bucket, "dir/obj.txt", 600);
  const body = "presigned payload " + run;
  const put = await fetch(url, { method: "PUT", body });
  assert(put.ok, "presigned PUT status " + put.status + " " + (await put.text()));
  const tampered = url.replace(/X-Amz-Signature=([0-9a-f])/, (m, c) => "X-Amz-Signature=" + (c === "0" ? "1" : "0"));
  const bad = await fetch(tampered, { method: "PUT", body: "evil" });
  assert(bad.status === 403, "tampered signature should be 403, got " + bad.status);
  const stream = await mc.getObject(bucket, "dir/obj.txt");
  let got = "";
  for await (const ch of stream) got += ch;
  assert(got === body, "getObject returned " + got);
  await mc.removeObject(bucket, "dir/obj.txt");
  await mc.removeBucket(bucket);
  return "round trip ok; tampered presigned URL rejected with 403";
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
