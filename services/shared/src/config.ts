import { hostname } from "node:os";
import { resolve } from "node:path";
import { kafkaBrokersProblem, maskSecrets, mongoUrlProblem, s3EndpointProblem, urlProblem } from "./config-addresses.js";
import { clusterNeedProblems } from "./config-needs.js";
import { DEFAULT_TENANT_RATE_FACTOR, parseRateLimits, type RateLimitConfig } from "./rate-limits.js";

/** The services of the mesh, in the order the platform starts them. */
export const SERVICE_NAMES = [
  "auth",
  "chat",
  "socket",
  "media",
  "search",
  "compliance",
  "crypto",
  "gateway",
] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Default ports (DESIGN.md); each is configurable and 0 means "pick a free port". */
export const DEFAULT_PORTS: Record<ServiceName, number> = {
  gateway: 3000,
  socket: 3002,
  chat: 3004,
  media: 3005,
  search: 3006,
  auth: 3007,
  compliance: 3008,
  crypto: 3009,
};

export type RunMode = "embedded" | "cluster";

/** Addresses of the real engines used in cluster mode (all optional until a store needs one). */
export interface ClusterEndpoints {
  mongoUrl?: string;
  mongoDb: string;
  kafkaBrokers: string[];
  /** Prepended to every topic and consumer group (several deployments or test runs on one Kafka). */
  kafkaPrefix: string;
  /** Replication factor of topics the platform creates (3 in docker-compose). */
  kafkaReplicationFactor: number;
  schemaRegistryUrl?: string;
  redisUrl?: string;
  /** Redis split by purpose (CAAS_REDIS_<PURPOSE>_URL); each falls back to redisUrl when unset. */
  redisGatewayUrl?: string;
  redisSocketUrl?: string;
  redisComplianceUrl?: string;
  redisCryptoUrl?: string;
  elasticsearchUrl?: string;
  s3Endpoint?: string;
  /** The S3 address clients use for presigned uploads and downloads, when not s3Endpoint (CAAS_S3_PUBLIC_ENDPOINT). */
  s3PublicEndpoint?: string;
  s3AccessKey?: string;
  s3SecretKey?: string;
  s3Bucket: string;
  s3Region: string;
}

export interface Limits {
  /** Largest request message a service accepts (Connect readMaxBytes). */
  readMaxBytes: number;
  /** Largest response message a service sends (Connect writeMaxBytes). */
  writeMaxBytes: number;
  /** Largest WebSocket frame the socket service accepts. */
  wsMaxPayload: number;
  /** Realtime: open connections per user (cluster-wide, counted in the Presence port). */
  realtimeMaxConnectionsPerUser: number;
  /** Realtime: send frames a connection may have outstanding (not yet acknowledged). */
  realtimeMaxInflightSends: number;
  /** Realtime: at most one Checkpoint per this interval on an active connection; 0 sends none. */
  realtimeCheckpointMs: number;
  /** Checkpoints one socket instance starts per second (each a GetChanges call to chat). */
  realtimeCheckpointsPerSec: number;
}

/** The media service's settings (README "Configuration"). */
export interface MediaConfig {
  /** The largest upload CreateUpload accepts, in bytes (CAAS_MEDIA_MAX_BYTES). */
  maxUploadBytes: number;
  /**
   * Embedded mode: the absolute URL clients reach media's blob endpoint at (CAAS_MEDIA_PUBLIC_URL,
   * e.g. `https://chat.example.com/blobs`, its path always /blobs: a proxy forwards it unchanged to
   * media's listener); unset, `<media's bound address>/blobs`.
   */
  publicUrl?: string;
  /**
   * How often the media service sweeps abandoned uploads (CAAS_MEDIA_SWEEP_INTERVAL_MS, default
   * one minute; 0 turns the sweeper off).
   */
  sweepIntervalMs: number;
}

/** The compliance service's settings. */
export interface ComplianceConfig {
  /** A signed audit checkpoint every this many records of a tenant (CAAS_AUDIT_CHECKPOINT_EVERY, default 100). */
  auditCheckpointEvery: number;
  /** And at most this long after a tenant's last record (CAAS_AUDIT_CHECKPOINT_INTERVAL_MS, default 10 s; 0: count only). */
  auditCheckpointIntervalMs: number;
}

export interface Config {
  mode: RunMode;
  /** Interface services bind to: 127.0.0.1 in embedded mode unless overridden. */
  host: string;
  /** Root of embedded-mode data (one SQLite file per service, blobs). */
  dataDir: string;
  logLevel: string;
  /** Names this process in logs and platform status (e.g. chat-1). */
  instanceId: string;
  ports: Record<ServiceName, number>;
  /** Peer base URLs per service. Empty in embedded mode until listeners bind. */
  peers: Record<ServiceName, string[]>;
  limits: Limits;
  /** How long shutdown waits for in-flight calls and streams before closing them. */
  shutdownGraceMs: number;
  cluster: ClusterEndpoints;
  media: MediaConfig;
  compliance: ComplianceConfig;
  /** Per-user and per-tenant rate limits by action (CAAS_RATE_LIMITS, CAAS_RATE_LIMIT_TENANT_FACTOR). */
  rateLimits: RateLimitConfig;
  /**
   * The service-secret root (CAAS_SERVICE_SECRET, at least 32 characters) when set; embedded mode
   * generates one otherwise (loadServiceSecretRoot).
   */
  serviceSecret?: string;
  /**
   * The platform-admin credential (CAAS_ADMIN_TOKEN, at least 32 characters) when the operator
   * supplies it; otherwise auth generates one at first start (ADR 0012).
   */
  adminToken?: string;
  version: string;
  /**
   * CAAS_CHECK_CONFIG=1 (or the `--check-config` flag): validate, print the resolved settings with
   * secrets masked and exit without opening a connection (config-check.ts).
   */
  checkOnly: boolean;
}

/** CAAS_ADMIN_TOKEN must be at least this long (the auth service hashes it; nothing is stored). */
export const MIN_ADMIN_TOKEN_LENGTH = 32;

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
      for (const item of list.split(",").map((s) => s.trim()).filter(Boolean)) {
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

  const kafkaBrokers = (get("CAAS_KAFKA_BROKERS") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const brokersProblem = kafkaBrokersProblem(kafkaBrokers);
  if (brokersProblem !== undefined) problems.push(`CAAS_KAFKA_BROKERS ${brokersProblem}`);
  const cluster: ClusterEndpoints = {
    mongoUrl: address("CAAS_MONGO_URL", mongoUrlProblem),
    mongoDb: get("CAAS_MONGO_DB") ?? "caas",
    kafkaBrokers,
    kafkaPrefix: get("CAAS_KAFKA_PREFIX") ?? "",
    kafkaReplicationFactor: int("CAAS_KAFKA_REPLICATION_FACTOR", 1, 1, 7),
    schemaRegistryUrl: httpUrl("CAAS_SCHEMA_REGISTRY_URL"),
    redisUrl: redisUrl("CAAS_REDIS_URL"),
    redisGatewayUrl: redisUrl("CAAS_REDIS_GATEWAY_URL"),
    redisSocketUrl: redisUrl("CAAS_REDIS_SOCKET_URL"),
    redisComplianceUrl: redisUrl("CAAS_REDIS_COMPLIANCE_URL"),
    redisCryptoUrl: redisUrl("CAAS_REDIS_CRYPTO_URL"),
    elasticsearchUrl: httpUrl("CAAS_ELASTICSEARCH_URL"),
    s3Endpoint: address("CAAS_S3_ENDPOINT", s3EndpointProblem),
    s3PublicEndpoint: address("CAAS_S3_PUBLIC_ENDPOINT", s3EndpointProblem),
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
    realtimeCheckpointMs: int("CAAS_REALTIME_CHECKPOINT_MS", 30_000, 0, 3_600_000),
    realtimeCheckpointsPerSec: int("CAAS_REALTIME_CHECKPOINT_RATE", 50, 1, 100_000),
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

  const compliance: ComplianceConfig = {
    auditCheckpointEvery: int("CAAS_AUDIT_CHECKPOINT_EVERY", 100, 1, 1_000_000),
    auditCheckpointIntervalMs: int("CAAS_AUDIT_CHECKPOINT_INTERVAL_MS", 10_000, 0, 86_400_000),
  };

  const config: Config = {
    mode,
    host: get("CAAS_HOST") ?? (mode === "embedded" ? "127.0.0.1" : "0.0.0.0"),
    dataDir: resolve(get("CAAS_DATA_DIR") ?? "./data"),
    logLevel,
    instanceId: get("CAAS_INSTANCE_ID") ?? `${hostname()}-${process.pid}`,
    ports,
    peers,
    limits,
    shutdownGraceMs: int("CAAS_SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
    cluster,
    media,
    compliance,
    rateLimits,
    ...(serviceSecret !== undefined ? { serviceSecret } : {}),
    ...(adminToken !== undefined ? { adminToken } : {}),
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
  }
  if (service !== undefined) problems.push(...clusterNeedProblems(service, config));
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Variables under these prefixes belong to tooling (tests, infra scripts), not to services. */
const IGNORED_PREFIXES = ["CAAS_TEST_", "CAAS_INFRA_", "CAAS_REQUIRE_INFRA", "CAAS_GRPCURL", "CAAS_BENCH_"];
