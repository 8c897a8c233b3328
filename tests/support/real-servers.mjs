// The real servers' variables and the cluster's process layout, in one place for the test setup,
// the soak and the benchmarks (tests/infra/up writes the variables to ~/.cache/caas-infra/env).
// Plain JS so the .mjs benchmarks can import it without a TypeScript loader.

/** Every variable naming a real server: media needs S3, search Elasticsearch in cluster mode. */
export const SERVER_VARS = [
  "CAAS_KAFKA_BROKERS",
  "CAAS_SCHEMA_REGISTRY_URL",
  "CAAS_MONGO_URL",
  "CAAS_REDIS_URL",
  "CAAS_ELASTICSEARCH_URL",
  "CAAS_S3_ENDPOINT",
  "CAAS_S3_ACCESS_KEY",
  "CAAS_S3_SECRET_KEY",
  "CAAS_S3_REGION",
];

/** The processes of a cluster: each service once, chat and socket twice. */
export const CLUSTER_LAYOUT = [
  { service: "auth", instanceId: "auth-1" },
  { service: "chat", instanceId: "chat-1" },
  { service: "chat", instanceId: "chat-2" },
  { service: "socket", instanceId: "socket-1" },
  { service: "socket", instanceId: "socket-2" },
  { service: "media", instanceId: "media-1" },
  { service: "search", instanceId: "search-1" },
  { service: "compliance", instanceId: "compliance-1" },
  { service: "crypto", instanceId: "crypto-1" },
  { service: "gateway", instanceId: "gateway-1" },
];

/** The real servers' variables that are set in `env`, as an environment for spawned services. */
export function serverEnvFrom(env = process.env) {
  const out = {};
  for (const v of SERVER_VARS) if (env[v]) out[v] = env[v];
  return out;
}
