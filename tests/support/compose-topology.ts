import { fileURLToPath, pathToFileURL } from "node:url";
import type { ComposeCaasService } from "./compose-services.js";
import type { PlannedInstance } from "./spawn-cluster.js";

/** The real test servers (tests/infra/up's env file), as the CAAS_* variables name them. */
export interface TestServers {
  mongoUrl: string;
  kafkaBrokers: string[];
  schemaRegistryUrl: string;
  redisUrl: string;
  elasticsearchUrl: string;
  s3Endpoint: string;
  s3AccessKey: string;
  s3SecretKey: string;
}

/** The preload that routes compose's names to local addresses (tests/support/compose-hosts.mjs). */
export const composeHostsPreload = fileURLToPath(new URL("./compose-hosts.mjs", import.meta.url));

/** The image's NODE_OPTIONS (Dockerfile, runtime stage): the processes run with the same flags. */
export const IMAGE_NODE_OPTIONS = "--enable-source-maps --max-semi-space-size=64";

const hostPort = (url: string) => new URL(url).host;
/** The host:port entries of a MongoDB seed list (mongodb://[user@]h1:p1,h2:p2/...). */
const mongoSeeds = (url: string) => /^mongodb(?:\+srv)?:\/\/(?:[^@/]*@)?([^/?]+)/.exec(url)![1]!.split(",");

/**
 * Where each compose address goes on this host: every CAAS instance's `<compose name>:<its port>`
 * to 127.0.0.1 and the port it listens on here; every backing server compose names (mongo-1..3,
 * kafka-1..3, schema-registry, redis-*, elasticsearch, minio) to the test server of its kind.
 */
export function composeAddressTable(services: ComposeCaasService[], planned: PlannedInstance[], servers: TestServers): Record<string, string> {
  const table: Record<string, string> = {};
  for (const s of services) {
    const port = s.environment[`CAAS_${s.kind.toUpperCase()}_PORT`]!;
    table[`${s.name}:${port}`] = `127.0.0.1:${planned.find((p) => p.instanceId === s.name)!.port}`;
  }
  const envValues = (name: string) => [...new Set(services.map((s) => s.environment[name]).filter((v): v is string => !!v))];
  for (const v of envValues("CAAS_MONGO_URL")) for (const seed of mongoSeeds(v)) table[seed] = mongoSeeds(servers.mongoUrl)[0]!;
  for (const v of envValues("CAAS_KAFKA_BROKERS")) {
    v.split(",").forEach((b, i) => (table[b.trim()] = servers.kafkaBrokers[i % servers.kafkaBrokers.length]!));
  }
  for (const v of envValues("CAAS_SCHEMA_REGISTRY_URL")) table[hostPort(v)] = hostPort(servers.schemaRegistryUrl);
  for (const name of ["CAAS_REDIS_URL", "CAAS_REDIS_GATEWAY_URL", "CAAS_REDIS_SOCKET_URL", "CAAS_REDIS_COMPLIANCE_URL", "CAAS_REDIS_CRYPTO_URL"]) {
    for (const v of envValues(name)) table[hostPort(v)] = hostPort(servers.redisUrl);
  }
  for (const v of envValues("CAAS_ELASTICSEARCH_URL")) table[hostPort(v)] = hostPort(servers.elasticsearchUrl);
  for (const v of envValues("CAAS_S3_ENDPOINT")) table[hostPort(v)] = hostPort(servers.s3Endpoint);
  return table;
}

/**
 * A compose service's environment as this test runs it: exactly what compose gives it, except
 * what one shared host and the shared test servers force, each said why. Returns the overrides
 * separately, so the test can show and bound them.
 */
export function composeOverrides(s: ComposeCaasService, instance: PlannedInstance, servers: TestServers, runPrefix: string): Record<string, string> {
  const env = s.environment;
  const o: Record<string, string> = {
    // Containers each have an address; here the instances share 127.0.0.1 and differ by port.
    [`CAAS_${s.kind.toUpperCase()}_PORT`]: String(instance.port),
    // 0.0.0.0 inside a container is its own network; on a shared machine, loopback only.
    CAAS_HOST: "127.0.0.1",
  };
  if (env.CAAS_MONGO_URL) {
    // The test server is one standalone FerretDB, not the replica set rs0 of three mongods: the
    // driver would wait forever for a primary named rs0. Compose's first seed name is kept.
    o.CAAS_MONGO_URL = `mongodb://${mongoSeeds(env.CAAS_MONGO_URL)[0]}/`;
    // A database of this run's own on the shared server.
    o.CAAS_MONGO_DB = runPrefix;
  }
  if (env.CAAS_KAFKA_BROKERS) {
    // Topics and groups of this run's own on the shared brokers.
    o.CAAS_KAFKA_PREFIX = `${runPrefix}.`;
    // A topic cannot have more replicas than the cluster has brokers.
    const rf = Number(env.CAAS_KAFKA_REPLICATION_FACTOR ?? "1");
    if (rf > servers.kafkaBrokers.length) o.CAAS_KAFKA_REPLICATION_FACTOR = String(servers.kafkaBrokers.length);
  }
  if (env.CAAS_SCHEMA_REGISTRY_URL) {
    // Apicurio serves the Confluent registry API under a path; compose's Confluent registry at the root.
    const path = new URL(servers.schemaRegistryUrl).pathname.replace(/\/+$/, "");
    if (path) o.CAAS_SCHEMA_REGISTRY_URL = `${env.CAAS_SCHEMA_REGISTRY_URL.replace(/\/+$/, "")}${path}`;
  }
  if (env.CAAS_S3_ENDPOINT) {
    // minio-init creates compose's media user on MinIO; the test S3 server has its own keys.
    o.CAAS_S3_ACCESS_KEY = servers.s3AccessKey;
    o.CAAS_S3_SECRET_KEY = servers.s3SecretKey;
    // What the test (the browser's place) reaches S3 at: compose publishes MinIO on localhost:9000.
    o.CAAS_S3_PUBLIC_ENDPOINT = servers.s3Endpoint;
  }
  return o;
}

/** The whole environment of one process: compose's, the overrides, the image's NODE_OPTIONS plus the preload. */
export function composeProcessEnv(s: ComposeCaasService, overrides: Record<string, string>, addresses: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "",
    ...s.environment,
    ...overrides,
    NODE_OPTIONS: `${IMAGE_NODE_OPTIONS} --import=${pathToFileURL(composeHostsPreload).href}`,
    CAAS_TEST_COMPOSE_ADDRESSES: JSON.stringify(addresses),
  };
}
