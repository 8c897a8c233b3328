import type { Config, ServiceName } from "./config-types.js";

/** One setting a service cannot run without in cluster mode, and what it is for. */
export interface ClusterNeed {
  /** The variable (or the choice of variables) an operator sets. */
  variable: string;
  /** What the service uses it for (shown in the problem line). */
  purpose: string;
  present(config: Config): boolean;
}

const need = (variable: string, purpose: string, present: (c: Config) => unknown): ClusterNeed => ({
  variable,
  purpose,
  present: (c) => Boolean(present(c)),
});
const peer = (service: ServiceName, purpose: string): ClusterNeed => need(`CAAS_${service.toUpperCase()}_URL`, purpose, (c) => c.peers[service].length > 0);

const MONGO = need("CAAS_MONGO_URL", "its stores", (c) => c.cluster.mongoUrl);
const REDIS = need("CAAS_REDIS_URL", "rate limits shared by every instance", (c) => c.cluster.redisUrl);
const SERVICE_SECRET = need("CAAS_SERVICE_SECRET", "service tokens between services", (c) => c.serviceSecret);
const AUTH = peer("auth", "service tokens, session checks and the revocation list");

/**
 * What each service needs in cluster mode besides what every one needs (CAAS_KAFKA_BROKERS and
 * CAAS_SCHEMA_REGISTRY_URL, checked by loadConfig). A peer is listed where the service cannot do
 * its work at all without it; a peer serving only some calls (the gateway forwarding to media,
 * chat attaching media) may be absent from a partial deployment: those calls answer UNAVAILABLE
 * and GetPlatformStatus shows the gap. Kept next to the code that reads them: a
 * service checks these before it opens anything, so a missing setting stops it at start-up with
 * one line, never half-way through (an adapter finding it missing would leave connections open).
 */
export const CLUSTER_NEEDS: Record<ServiceName, readonly ClusterNeed[]> = {
  auth: [MONGO, REDIS, SERVICE_SECRET],
  chat: [MONGO, REDIS, SERVICE_SECRET, AUTH],
  socket: [
    need("CAAS_REDIS_SOCKET_URL or CAAS_REDIS_URL", "pub/sub between instances, presence and typing rates", (c) => c.cluster.redisSocketUrl ?? c.cluster.redisUrl),
    SERVICE_SECRET,
    AUTH,
    peer("chat", "sending and reading messages"),
  ],
  media: [
    MONGO,
    need("CAAS_S3_ENDPOINT", "the blob store", (c) => c.cluster.s3Endpoint),
    need("CAAS_S3_ACCESS_KEY", "the blob store", (c) => c.cluster.s3AccessKey),
    need("CAAS_S3_SECRET_KEY", "the blob store", (c) => c.cluster.s3SecretKey),
    SERVICE_SECRET,
    AUTH,
    peer("chat", "who may read attached media"),
  ],
  search: [
    need("CAAS_ELASTICSEARCH_URL", "the message index", (c) => c.cluster.elasticsearchUrl),
    need("CAAS_MONGO_URL", "the user directory", (c) => c.cluster.mongoUrl),
    need("CAAS_REDIS_URL", "access and result caches shared by every instance", (c) => c.cluster.redisUrl),
    SERVICE_SECRET,
    AUTH,
    peer("chat", "who may read which conversations, and gap fills of the event log"),
  ],
  compliance: [MONGO, SERVICE_SECRET, AUTH],
  crypto: [MONGO, SERVICE_SECRET, AUTH],
  gateway: [need("CAAS_REDIS_GATEWAY_URL or CAAS_REDIS_URL", "edge rate limits shared by every instance", (c) => c.cluster.redisGatewayUrl ?? c.cluster.redisUrl), SERVICE_SECRET, AUTH],
};

/** One line per setting `service` lacks in cluster mode; none in embedded mode (the platform fills them). */
export function clusterNeedProblems(service: ServiceName, config: Config): string[] {
  if (config.mode !== "cluster") return [];
  return CLUSTER_NEEDS[service].filter((n) => !n.present(config)).map((n) => `${n.variable} is required for the ${service} service in cluster mode (${n.purpose})`);
}
