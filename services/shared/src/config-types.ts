import type { RateLimitConfig } from "./rate-limits.js";

/** The services of the mesh, in the order the platform starts them. */
export const SERVICE_NAMES = ["auth", "chat", "socket", "media", "search", "compliance", "crypto", "gateway"] as const;
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
  /**
   * retention.ms of the chat topics (conversation events and per-user state) when the platform
   * creates them (CAAS_CHAT_TOPIC_RETENTION_MS, default 7 days): how long message bodies that were
   * deleted, erased or expired in the store stay readable in Kafka. The embedded bus keeps records
   * as long.
   */
  chatTopicRetentionMs: number;
  schemaRegistryUrl?: string;
  redisUrl?: string;
  /** Redis split by purpose (CAAS_REDIS_<PURPOSE>_URL); each falls back to redisUrl when unset. */
  redisGatewayUrl?: string;
  redisSocketUrl?: string;
  redisComplianceUrl?: string;
  redisCryptoUrl?: string;
  elasticsearchUrl?: string;
  /** Starts the search service's Elasticsearch index and template names (CAAS_ELASTICSEARCH_INDEX_PREFIX, default `caas-`). */
  elasticsearchIndexPrefix: string;
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
  /** Realtime: authentications (token, conversation list, place) one socket instance runs at once (ADR 0191). */
  realtimeMaxConcurrentAuth: number;
  /** Realtime: connections that may wait for an authentication place; past it they are refused with a retry delay. */
  realtimeAuthQueue: number;
  /** How long a socket instance keeps the membership index of a user whose last connection left (ms; 0: not at all). */
  realtimeMembershipLingerMs: number;
  /** Realtime: at most one Checkpoint per this interval on an active connection; 0 sends none. */
  realtimeCheckpointMs: number;
  /** Checkpoints one socket instance starts per second (each a GetChanges call to chat). */
  realtimeCheckpointsPerSec: number;
  /** Sends one chat instance works on at once; more are refused RESOURCE_EXHAUSTED with a retry delay. */
  chatMaxPendingSends: number;
  /** The longest a send should expect to spend on a chat instance; past it the send is refused with a retry delay. */
  chatSendTargetMs: number;
}

/**
 * How every listener bounds slow and abusive clients (docs/operations/connection-limits.md): the
 * same on every service, both modes, HTTP/1.1 and HTTP/2.
 */
export interface ConnectionLimits {
  /** A request's headers (HTTP/2: each header block; the first within this of connecting) must arrive within this (CAAS_HTTP_HEADERS_TIMEOUT_MS). */
  headersTimeoutMs: number;
  /** A whole request, body included, must arrive within this; client- and bidi-streaming RPCs are exempt (CAAS_HTTP_REQUEST_TIMEOUT_MS). */
  requestTimeoutMs: number;
  /** Largest request header section (HTTP/1.1 maxHeaderSize, HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE) (CAAS_HTTP_MAX_HEADER_BYTES). */
  maxHeaderBytes: number;
  /** Streams open at once on one HTTP/2 connection (SETTINGS_MAX_CONCURRENT_STREAMS) (CAAS_HTTP2_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
  /**
   * Connections the kernel holds handshaken for a listener until the process accepts them (the
   * listen backlog; Linux caps it at net.core.somaxconn) (CAAS_LISTEN_BACKLOG).
   */
  listenBacklog: number;
  /** Open TCP connections from one client address; 0 means no bound (CAAS_MAX_CONNECTIONS_PER_ADDRESS). */
  maxConnectionsPerAddress: number;
  /** Addresses and CIDR ranges the per-address bound does not apply to: proxies and peers (CAAS_CONNECTION_LIMIT_EXEMPT). */
  exemptAddresses: string[];
  /** Bytes a WebSocket may hold unsent (a client not reading) before it is closed as a slow consumer (CAAS_WS_MAX_BUFFERED_BYTES). */
  wsMaxBufferedBytes: number;
  /** Unary and client-streaming calls the gateway has outstanding to one owner service before it refuses more with RESOURCE_EXHAUSTED (CAAS_GATEWAY_MAX_OUTSTANDING). */
  gatewayMaxOutstanding: number;
  /** The longest a forwarded unary call should expect to wait behind the calls outstanding to its owner, beyond what one call takes alone, before the gateway refuses it (CAAS_GATEWAY_TARGET_WAIT_MS). */
  gatewayTargetWaitMs: number;
  /** The same while the gateway is refusing calls to the owner or did in the last 10 s, when shorter (CAAS_GATEWAY_OVERLOADED_WAIT_MS). */
  gatewayOverloadedWaitMs: number;
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
  /** The retention sweeper runs over every tenant with a policy this often (CAAS_RETENTION_SWEEP_INTERVAL_MS, default 1 h; 0: only on RunRetention). */
  retentionSweepIntervalMs: number;
  /** Export archives are deleted this long after their job succeeded unless the tenant's retention policy sets export_max_age (CAAS_EXPORT_ARCHIVE_TTL_MS, default 7 days). */
  exportArchiveTtlMs: number;
}

/**
 * `full`: every group commit of the embedded event log is fsynced before its appends resolve (an
 * ack survives a power loss); `normal`: WAL synchronous=NORMAL (an ack survives a process crash,
 * the last commits before a power loss may be lost).
 */
export type EventLogSync = "full" | "normal";

export interface Config {
  mode: RunMode;
  /** Interface services bind to: 127.0.0.1 in embedded mode unless overridden. */
  host: string;
  /** Root of embedded-mode data (one SQLite file per service, blobs). */
  dataDir: string;
  /** The embedded event log's SQLite `synchronous` for its group commits (CAAS_EVENT_LOG_SYNC). */
  eventLogSync: EventLogSync;
  /**
   * Whether chat seals new message bodies at rest (CAAS_AT_REST_ENCRYPTION, default on; ADR 0120).
   * Off stores new writes in the clear (e.g. to measure the cost); sealed ones still read.
   */
  atRestEncryption: boolean;
  logLevel: string;
  /** Names this process in logs and platform status (e.g. chat-1). */
  instanceId: string;
  ports: Record<ServiceName, number>;
  /** Peer base URLs per service. Empty in embedded mode until listeners bind. */
  peers: Record<ServiceName, string[]>;
  limits: Limits;
  /** Bounds on slow and abusive clients, on every listener. */
  connections: ConnectionLimits;
  /** How long shutdown waits for in-flight calls and streams before closing them. */
  shutdownGraceMs: number;
  /**
   * How the services of one process call each other (CAAS_MESH_TRANSPORT): `in-process` hands a
   * call to the peer's handlers in memory (embedded mode's default; in-process.ts), `http2` goes
   * through the peer's listener over loopback, as between processes (cluster mode: always).
   */
  meshTransport: MeshTransport;
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
   * The key-encryption key of the message data keys (CAAS_KEK, 32 bytes in base64) when set;
   * otherwise embedded mode generates one into `<dataDir>/kek` and cluster mode derives it from
   * the service secret (ADR 0120).
   */
  kek?: string;
  /**
   * The platform-admin credential (CAAS_ADMIN_TOKEN, at least 32 characters) when the operator
   * supplies it; otherwise auth generates one at first start (ADR 0012).
   */
  adminToken?: string;
  /**
   * Browser origins (scheme://host[:port]) allowed to call the gateway cross-origin and to open
   * its /ws (CAAS_CORS_ORIGINS, comma-separated; default none).
   */
  corsOrigins: string[];
  /**
   * Embedded mode: serve the web chat demo at /demo on the gateway and create its demo tenant and
   * users at start (CAAS_DEMO=1, or `npm start -- --demo`; default off, refused in cluster mode).
   */
  demo: boolean;
  version: string;
  /**
   * CAAS_CHECK_CONFIG=1 (or the `--check-config` flag): validate, print the resolved settings with
   * secrets masked and exit without opening a connection (config-check.ts).
   */
  checkOnly: boolean;
}

/** How the services of one process call each other (Config.meshTransport). */
export type MeshTransport = "in-process" | "http2";

/** CAAS_ADMIN_TOKEN must be at least this long (the auth service hashes it; nothing is stored). */
export const MIN_ADMIN_TOKEN_LENGTH = 32;
