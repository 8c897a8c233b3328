import { hostname } from "node:os";
import { resolve } from "node:path";
import { kafkaBrokersProblem, maskSecrets, mongoUrlProblem, s3EndpointProblem, urlProblem } from "./config-addresses.js";
import { parseConnectionLimits } from "./config-connections.js";
import { clusterNeedProblems } from "./config-needs.js";
import { DEFAULT_TENANT_RATE_FACTOR, parseRateLimits, type RateLimitConfig } from "./rate-limits.js";
import {
  DEFAULT_PORTS,
  MIN_ADMIN_TOKEN_LENGTH,
  SERVICE_NAMES,
  type ClusterEndpoints,
  type ComplianceConfig,
  type Config,
  type EventLogSync,
  type Limits,
  type MediaConfig,
  type MeshTransport,
  type RunMode,
  type ServiceName,
} from "./config-types.js";

export {
  type ConnectionLimits,
  DEFAULT_PORTS,
  MIN_ADMIN_TOKEN_LENGTH,
  SERVICE_NAMES,
  type ClusterEndpoints,
  type Config,
  type EventLogSync,
  type Limits,
  type ComplianceConfig,
  type MediaConfig,
  type MeshTransport,
  type RunMode,
  type ServiceName,
} from "./config-types.js";

/** Thrown at start-up with every problem found, so an operator fixes them in one go. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
  }
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/**
 * Reads and validates configuration from environment variables (README "Configuration" lists
 * them). Unknown `CAAS_*` variables are reported too: a typo must not silently fall back to a
 * default. With `service`, also what that service needs in cluster mode (config-needs.ts), so every
 * problem is reported at once.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, service?: ServiceName): Config {
  const problems: string[] = [];
  const known = new Set<string>();
  const get = (name: string): string | undefined => {
    known.add(name);
    const v = env[name];
    return v === undefined || v.trim() === "" ? undefined : v.trim();
  };
  const int = (name: string, def: number, min: number, max: number): number => {
    const raw = get(name);
    if (raw === undefined) return def;
    if (!/^\d+$/.test(raw)) {
      problems.push(`${name}=${JSON.stringify(raw)} is not a whole number`);
      return def;
    }
    const n = Number(raw);
    if (n < min || n > max) problems.push(`${name}=${n} is outside ${min}..${max}`);
    return n;
  };
  const flag = (name: string): boolean => {
    const raw = get(name);
    if (raw === undefined || raw === "0" || raw === "false") return false;
    if (raw === "1" || raw === "true") return true;
    problems.push(`${name}=${JSON.stringify(raw)} must be 1 or 0`);
    return false;
  };
  /**
   * A server address: `check` (config-addresses.ts) says what is wrong; the problem line names
   * the variable and shows the value with any password masked.
   */
  const address = (name: string, check: (raw: string) => string | undefined): string | undefined => {
    const raw = get(name);
    if (raw === undefined) return undefined;
    const problem = check(raw);
    if (problem !== undefined) problems.push(`${name}=${JSON.stringify(maskSecrets(raw))} ${problem}`);
    return raw;
  };
  const httpUrl = (name: string) => address(name, (raw) => urlProblem(raw, ["http:", "https:"]));
  const redisUrl = (name: string) => address(name, (raw) => urlProblem(raw, ["redis:", "rediss:"]));

  const modeRaw = get("CAAS_MODE") ?? "embedded";
  let mode: RunMode = "embedded";
  if (modeRaw === "embedded" || modeRaw === "cluster") mode = modeRaw;
  else problems.push(`CAAS_MODE=${JSON.stringify(modeRaw)} must be "embedded" or "cluster"`);

  // How the embedded event log's group commits reach the disk (ADR 0106): full = fsync per commit.
  const eventLogSyncRaw = get("CAAS_EVENT_LOG_SYNC") ?? "full";
  let eventLogSync: EventLogSync = "full";
  if (eventLogSyncRaw === "full" || eventLogSyncRaw === "normal") eventLogSync = eventLogSyncRaw;
  else problems.push(`CAAS_EVENT_LOG_SYNC=${JSON.stringify(eventLogSyncRaw)} must be "full" or "normal"`);
  const meshTransportRaw = get("CAAS_MESH_TRANSPORT") ?? (mode === "embedded" ? "in-process" : "http2");
  let meshTransport: MeshTransport = "http2";
  if (meshTransportRaw === "in-process" || meshTransportRaw === "http2") meshTransport = meshTransportRaw;
  else problems.push(`CAAS_MESH_TRANSPORT=${JSON.stringify(meshTransportRaw)} must be "in-process" or "http2"`);
  // Cluster services run in processes of their own: there is no peer in this process to call.
  if (mode === "cluster" && meshTransport === "in-process") problems.push("CAAS_MESH_TRANSPORT=in-process is for embedded mode only (cluster services run in processes of their own)");
  const atRestRaw = get("CAAS_AT_REST_ENCRYPTION") ?? "on";
  if (atRestRaw !== "on" && atRestRaw !== "off") problems.push(`CAAS_AT_REST_ENCRYPTION=${JSON.stringify(atRestRaw)} must be "on" or "off"`);

  const logLevel = get("CAAS_LOG_LEVEL") ?? "info";
  if (!LOG_LEVELS.includes(logLevel)) {
    problems.push(`CAAS_LOG_LEVEL=${logLevel} must be one of ${LOG_LEVELS.join(", ")}`);
  }

  const ports = {} as Record<ServiceName, number>;
  const peers = {} as Record<ServiceName, string[]>;
  for (const name of SERVICE_NAMES) {
    const upper = name.toUpperCase();
    ports[name] = int(`CAAS_${upper}_PORT`, DEFAULT_PORTS[name], 0, 65535);
    const list = get(`CAAS_${upper}_URL`);
    peers[name] = [];
    if (list !== undefined) {
      for (const item of list
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)) {
        try {
          const u = new URL(item);
          if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error();
          peers[name].push(item.replace(/\/+$/, ""));
        } catch {
          problems.push(`CAAS_${upper}_URL has an entry ${JSON.stringify(maskSecrets(item))} that is not an http(s) URL`);
        }
      }
    }
  }

  const kafkaBrokers = (get("CAAS_KAFKA_BROKERS") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const brokersProblem = kafkaBrokersProblem(kafkaBrokers);
  if (brokersProblem !== undefined) problems.push(`CAAS_KAFKA_BROKERS ${brokersProblem}`);
  const cluster: ClusterEndpoints = {
    mongoUrl: address("CAAS_MONGO_URL", mongoUrlProblem),
    mongoDb: get("CAAS_MONGO_DB") ?? "caas",
    kafkaBrokers,
    kafkaPrefix: get("CAAS_KAFKA_PREFIX") ?? "",
    kafkaReplicationFactor: int("CAAS_KAFKA_REPLICATION_FACTOR", 1, 1, 7),
    chatTopicRetentionMs: int("CAAS_CHAT_TOPIC_RETENTION_MS", 7 * 86_400_000, 60_000, 365 * 86_400_000),
    schemaRegistryUrl: httpUrl("CAAS_SCHEMA_REGISTRY_URL"),
    redisUrl: redisUrl("CAAS_REDIS_URL"),
    redisGatewayUrl: redisUrl("CAAS_REDIS_GATEWAY_URL"),
    redisSocketUrl: redisUrl("CAAS_REDIS_SOCKET_URL"),
    redisComplianceUrl: redisUrl("CAAS_REDIS_COMPLIANCE_URL"),
    redisCryptoUrl: redisUrl("CAAS_REDIS_CRYPTO_URL"),
    elasticsearchUrl: httpUrl("CAAS_ELASTICSEARCH_URL"),
    s3Endpoint: address("CAAS_S3_ENDPOINT", s3EndpointProblem),
    s3PublicEndpoint: address("CAAS_S3_PUBLIC_ENDPOINT", s3EndpointProblem),
    elasticsearchIndexPrefix: get("CAAS_ELASTICSEARCH_INDEX_PREFIX") ?? "caas-",
    s3AccessKey: get("CAAS_S3_ACCESS_KEY"),
    s3SecretKey: get("CAAS_S3_SECRET_KEY"),
    s3Bucket: get("CAAS_S3_BUCKET") ?? "caas-media",
    s3Region: get("CAAS_S3_REGION") ?? "us-east-1",
  };
  const adminToken = get("CAAS_ADMIN_TOKEN");
  if (adminToken !== undefined && adminToken.length < MIN_ADMIN_TOKEN_LENGTH) {
    problems.push(`CAAS_ADMIN_TOKEN must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters (e.g. openssl rand -hex 32)`);
  } else if (adminToken !== undefined && /\s/.test(adminToken)) {
    problems.push("CAAS_ADMIN_TOKEN must not contain whitespace (it is sent as a Bearer credential)");
  }
  const serviceSecret = get("CAAS_SERVICE_SECRET");
  const kek = get("CAAS_KEK");
  if (kek !== undefined && (!/^[A-Za-z0-9+/]{43}=$/.test(kek) || Buffer.from(kek, "base64").length !== 32)) {
    problems.push("CAAS_KEK must be 32 bytes in standard base64 (e.g. openssl rand -base64 32)");
  }
  if (serviceSecret !== undefined && serviceSecret.length < 32) problems.push("CAAS_SERVICE_SECRET must be at least 32 characters");
  const rates = parseRateLimits(get("CAAS_RATE_LIMITS"));
  problems.push(...rates.problems);
  const rateLimits: RateLimitConfig = {
    perUser: rates.perUser,
    tenantFactor: int("CAAS_RATE_LIMIT_TENANT_FACTOR", DEFAULT_TENANT_RATE_FACTOR, 1, 1_000_000),
  };

  const limits: Limits = {
    readMaxBytes: int("CAAS_READ_MAX_BYTES", 4 * 1024 * 1024, 1024, 256 * 1024 * 1024),
    writeMaxBytes: int("CAAS_WRITE_MAX_BYTES", 16 * 1024 * 1024, 1024, 256 * 1024 * 1024),
    wsMaxPayload: int("CAAS_WS_MAX_PAYLOAD", 64 * 1024, 1024, 16 * 1024 * 1024),
    realtimeMaxConnectionsPerUser: int("CAAS_REALTIME_MAX_CONNECTIONS_PER_USER", 16, 1, 10_000),
    realtimeMaxInflightSends: int("CAAS_REALTIME_MAX_INFLIGHT_SENDS", 32, 1, 10_000),
    realtimeMaxConcurrentAuth: int("CAAS_REALTIME_MAX_CONCURRENT_AUTH", 64, 1, 100_000),
    realtimeAuthQueue: int("CAAS_REALTIME_AUTH_QUEUE", 2_000, 0, 1_000_000),
    realtimeMembershipLingerMs: int("CAAS_REALTIME_MEMBERSHIP_LINGER_MS", 30_000, 0, 3_600_000),
    realtimeCheckpointMs: int("CAAS_REALTIME_CHECKPOINT_MS", 30_000, 0, 3_600_000),
    realtimeCheckpointsPerSec: int("CAAS_REALTIME_CHECKPOINT_RATE", 50, 1, 100_000),
    chatMaxPendingSends: int("CAAS_CHAT_MAX_PENDING_SENDS", 64, 1, 100_000),
    chatSendTargetMs: int("CAAS_CHAT_SEND_TARGET_MS", 2_000, 10, 600_000),
  };

  const mediaPublicUrl = httpUrl("CAAS_MEDIA_PUBLIC_URL");
  if (mediaPublicUrl !== undefined && URL.canParse(mediaPublicUrl) && !/^https?:\/\/[^/?#]+\/blobs\/?$/.test(mediaPublicUrl)) {
    problems.push(`CAAS_MEDIA_PUBLIC_URL=${mediaPublicUrl} must be an http(s) URL whose path is /blobs (proxied unchanged to media's /blobs/)`);
  }
  const mediaSweepIntervalMs = int("CAAS_MEDIA_SWEEP_INTERVAL_MS", 60_000, 0, 86_400_000);
  if (mediaSweepIntervalMs > 0 && mediaSweepIntervalMs < 1000) {
    problems.push(`CAAS_MEDIA_SWEEP_INTERVAL_MS=${mediaSweepIntervalMs} must be 0 (no sweeper) or at least 1000`);
  }
  const media: MediaConfig = {
    maxUploadBytes: int("CAAS_MEDIA_MAX_BYTES", 100 * 1024 * 1024, 1, 5 * 1024 * 1024 * 1024),
    sweepIntervalMs: mediaSweepIntervalMs,
    ...(mediaPublicUrl !== undefined ? { publicUrl: mediaPublicUrl.replace(/\/+$/, "") } : {}),
  };

  const corsOrigins = parseCorsOrigins(get("CAAS_CORS_ORIGINS"), problems);
  const compliance: ComplianceConfig = {
    auditCheckpointEvery: int("CAAS_AUDIT_CHECKPOINT_EVERY", 100, 1, 1_000_000),
    auditCheckpointIntervalMs: int("CAAS_AUDIT_CHECKPOINT_INTERVAL_MS", 10_000, 0, 86_400_000),
    retentionSweepIntervalMs: int("CAAS_RETENTION_SWEEP_INTERVAL_MS", 3_600_000, 0, 7 * 86_400_000),
    exportArchiveTtlMs: int("CAAS_EXPORT_ARCHIVE_TTL_MS", 7 * 86_400_000, 1000, 315_360_000_000),
  };

  const config: Config = {
    mode,
    host: get("CAAS_HOST") ?? (mode === "embedded" ? "127.0.0.1" : "0.0.0.0"),
    dataDir: resolve(get("CAAS_DATA_DIR") ?? "./data"),
    eventLogSync,
    atRestEncryption: atRestRaw !== "off",
    logLevel,
    instanceId: get("CAAS_INSTANCE_ID") ?? `${hostname()}-${process.pid}`,
    ports,
    peers,
    limits,
    connections: parseConnectionLimits(get, int, problems),
    shutdownGraceMs: int("CAAS_SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
    meshTransport,
    cluster,
    media,
    compliance,
    rateLimits,
    ...(serviceSecret !== undefined ? { serviceSecret } : {}),
    ...(kek !== undefined ? { kek } : {}),
    ...(adminToken !== undefined ? { adminToken } : {}),
    corsOrigins,
    demo: flag("CAAS_DEMO"),
    version: get("CAAS_VERSION") ?? "0.1.0",
    checkOnly: flag("CAAS_CHECK_CONFIG"),
  };

  for (const name of Object.keys(env)) {
    if (name.startsWith("CAAS_") && !known.has(name) && !IGNORED_PREFIXES.some((p) => name.startsWith(p))) {
      problems.push(`${name} is not a known setting (see README "Configuration")`);
    }
  }
  if (mode === "cluster") {
    if (cluster.kafkaBrokers.length === 0) problems.push("CAAS_KAFKA_BROKERS is required in cluster mode");
    if (!cluster.schemaRegistryUrl) problems.push("CAAS_SCHEMA_REGISTRY_URL is required in cluster mode");
    // The demo mints tokens for its users to any visitor: never on a deployed cluster.
    if (config.demo) problems.push("CAAS_DEMO=1 is for embedded mode only (the demo hands out its users' tokens to any visitor)");
  }
  if (service !== undefined) problems.push(...clusterNeedProblems(service, config));
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * CAAS_CORS_ORIGINS: a comma-separated list of exact browser origins, each an http(s) URL with
 * nothing after the host and port, kept in the form browsers send in `Origin` (lower-case host,
 * default port left out). A wildcard is refused: the list is what stands between a page on any
 * site and the user's token.
 */
function parseCorsOrigins(raw: string | undefined, problems: string[]): string[] {
  const origins: string[] = [];
  for (const item of (raw ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const u = URL.canParse(item) ? new URL(item) : undefined;
    if (!u || (u.protocol !== "http:" && u.protocol !== "https:") || u.origin === "null") {
      problems.push(`CAAS_CORS_ORIGINS has an entry ${JSON.stringify(item)} that is not an http(s) origin`);
    } else if (u.username || u.password || u.search || u.hash || !/^[a-z]+:\/\/[^/]+\/?$/i.test(item)) {
      problems.push(`CAAS_CORS_ORIGINS entry ${JSON.stringify(item)} must be only scheme://host[:port] (no path, query or credentials)`);
    } else if (!origins.includes(u.origin)) {
      origins.push(u.origin);
    }
  }
  return origins;
}

/** Variables under these prefixes belong to tooling (tests, infra scripts), not to services. */
const IGNORED_PREFIXES = ["CAAS_TEST_", "CAAS_INFRA_", "CAAS_REQUIRE_INFRA", "CAAS_GRPCURL", "CAAS_BENCH_"];
