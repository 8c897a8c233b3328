import { writeSync } from "node:fs";
import { maskSecrets } from "./config-addresses.js";
import { ConfigError, loadConfig, SERVICE_NAMES, type Config, type ServiceName } from "./config.js";

/** What a secret is printed as: never its length, prefix or hash. */
export const MASK = "***";

/** The flag that asks a service to check its configuration and exit. */
export const CHECK_CONFIG_FLAG = "--check-config";

/**
 * The resolved settings as `VARIABLE=value` lines, secrets masked (credentials, the admin token,
 * the service secret, the S3 keys and any password inside a server URL). `service` narrows the
 * ports to that service's own; without it (the embedded platform) every port is listed.
 */
export function describeConfig(config: Config, service?: ServiceName): string[] {
  const c = config.cluster;
  const show = (v: string | number | undefined): string => (v === undefined ? "(unset)" : maskSecrets(String(v)));
  const secret = (v: string | undefined): string => (v === undefined ? "(unset)" : MASK);
  const lines: [string, string][] = [
    ["CAAS_MODE", config.mode],
    ["CAAS_INSTANCE_ID", config.instanceId],
    ["CAAS_HOST", config.host],
    ...(service ? [service] : SERVICE_NAMES).map((s): [string, string] => [`CAAS_${s.toUpperCase()}_PORT`, String(config.ports[s])]),
    ["CAAS_LOG_LEVEL", config.logLevel],
    ["CAAS_DATA_DIR", config.dataDir],
    ["CAAS_ADMIN_TOKEN", secret(config.adminToken)],
    ["CAAS_SERVICE_SECRET", secret(config.serviceSecret)],
    ["CAAS_KEK", secret(config.kek)],
    ...SERVICE_NAMES.map((s): [string, string] => [`CAAS_${s.toUpperCase()}_URL`, config.peers[s].length ? maskSecrets(config.peers[s].join(",")) : "(unset)"]),
    ["CAAS_MONGO_URL", show(c.mongoUrl)],
    ["CAAS_MONGO_DB", c.mongoDb],
    ["CAAS_KAFKA_BROKERS", c.kafkaBrokers.length ? c.kafkaBrokers.join(",") : "(unset)"],
    ["CAAS_KAFKA_PREFIX", c.kafkaPrefix],
    ["CAAS_KAFKA_REPLICATION_FACTOR", String(c.kafkaReplicationFactor)],
    ["CAAS_CHAT_TOPIC_RETENTION_MS", String(c.chatTopicRetentionMs)],
    ["CAAS_SCHEMA_REGISTRY_URL", show(c.schemaRegistryUrl)],
    ["CAAS_REDIS_URL", show(c.redisUrl)],
    ["CAAS_REDIS_GATEWAY_URL", show(c.redisGatewayUrl)],
    ["CAAS_REDIS_SOCKET_URL", show(c.redisSocketUrl)],
    ["CAAS_REDIS_COMPLIANCE_URL", show(c.redisComplianceUrl)],
    ["CAAS_REDIS_CRYPTO_URL", show(c.redisCryptoUrl)],
    ["CAAS_ELASTICSEARCH_URL", show(c.elasticsearchUrl)],
    ["CAAS_S3_ENDPOINT", show(c.s3Endpoint)],
    ["CAAS_S3_PUBLIC_ENDPOINT", show(c.s3PublicEndpoint)],
    ["CAAS_S3_ACCESS_KEY", secret(c.s3AccessKey)],
    ["CAAS_S3_SECRET_KEY", secret(c.s3SecretKey)],
    ["CAAS_S3_BUCKET", c.s3Bucket],
    ["CAAS_S3_REGION", c.s3Region],
    ["CAAS_MEDIA_PUBLIC_URL", show(config.media.publicUrl)],
    ["CAAS_MEDIA_MAX_BYTES", String(config.media.maxUploadBytes)],
    ["CAAS_MEDIA_SWEEP_INTERVAL_MS", String(config.media.sweepIntervalMs)],
    ["CAAS_AUDIT_CHECKPOINT_EVERY", String(config.compliance.auditCheckpointEvery)],
    ["CAAS_AUDIT_CHECKPOINT_INTERVAL_MS", String(config.compliance.auditCheckpointIntervalMs)],
    ["CAAS_RETENTION_SWEEP_INTERVAL_MS", String(config.compliance.retentionSweepIntervalMs)],
    ["CAAS_EXPORT_ARCHIVE_TTL_MS", String(config.compliance.exportArchiveTtlMs)],
    ["CAAS_SHUTDOWN_GRACE_MS", String(config.shutdownGraceMs)],
    ["CAAS_MESH_TRANSPORT", config.meshTransport],
    ["CAAS_READ_MAX_BYTES", String(config.limits.readMaxBytes)],
    ["CAAS_WRITE_MAX_BYTES", String(config.limits.writeMaxBytes)],
    ["CAAS_WS_MAX_PAYLOAD", String(config.limits.wsMaxPayload)],
    ["CAAS_REALTIME_MAX_CONNECTIONS_PER_USER", String(config.limits.realtimeMaxConnectionsPerUser)],
    ["CAAS_REALTIME_MAX_INFLIGHT_SENDS", String(config.limits.realtimeMaxInflightSends)],
    ["CAAS_REALTIME_MAX_CONCURRENT_AUTH", String(config.limits.realtimeMaxConcurrentAuth)],
    ["CAAS_REALTIME_AUTH_QUEUE", String(config.limits.realtimeAuthQueue)],
    ["CAAS_REALTIME_MEMBERSHIP_LINGER_MS", String(config.limits.realtimeMembershipLingerMs)],
    ["CAAS_REALTIME_CHECKPOINT_MS", String(config.limits.realtimeCheckpointMs)],
    ["CAAS_REALTIME_CHECKPOINT_RATE", String(config.limits.realtimeCheckpointsPerSec)],
    ["CAAS_RATE_LIMITS", JSON.stringify(config.rateLimits.perUser)],
    ["CAAS_RATE_LIMIT_TENANT_FACTOR", String(config.rateLimits.tenantFactor)],
    ["CAAS_DEMO", config.demo ? "1" : "0"],
    ["CAAS_VERSION", config.version],
  ];
  return lines.map(([k, v]) => `${k}=${v}`);
}

/** Where startConfig writes and how it ends the process (replaced in tests). */
export interface ConfigCheckIo {
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  out(text: string): void;
  err(text: string): void;
  exit(code: number): never;
}

const processIo: ConfigCheckIo = {
  argv: process.argv,
  env: process.env,
  // Synchronous writes: process.exit right after must not cut a piped output short.
  out: (text) => writeSync(1, text),
  err: (text) => writeSync(2, text),
  exit: (code) => process.exit(code),
};

/**
 * Loads and validates the configuration of `service` (or of the embedded `platform`) before
 * anything is opened: on any problem, one line per problem naming the variable and exit 2. With
 * `--check-config` or CAAS_CHECK_CONFIG=1, prints the resolved settings (secrets masked) and exits
 * 0 without opening a connection. Otherwise returns the configuration to start with.
 */
export function startConfig(service: ServiceName | "platform", io: ConfigCheckIo = processIo): Config {
  const label = service === "platform" ? "caas" : service;
  let config: Config;
  try {
    config = loadConfig(io.env, service === "platform" ? undefined : service);
    if (service === "platform" && config.mode === "cluster") {
      throw new ConfigError([
        'CAAS_MODE=cluster: the platform entry point runs embedded mode only; in cluster mode start each service with `node services/<name>/dist/main.js` (README "Cluster mode")',
      ]);
    }
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    io.err(`${label}: ${e.message}\n`);
    return io.exit(2);
  }
  if (config.checkOnly || io.argv.slice(2).includes(CHECK_CONFIG_FLAG)) {
    io.out(
      `${label}: configuration is valid (${config.mode} mode); resolved settings, secrets masked:\n${describeConfig(config, service === "platform" ? undefined : service)
        .map((l) => `  ${l}\n`)
        .join("")}`,
    );
    return io.exit(0);
  }
  return config;
}
