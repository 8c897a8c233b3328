import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { PlatformService } from "@caas/gen/caas/gateway/v1/gateway_service_pb.js";
import { ServingState } from "@caas/gen/caas/gateway/v1/platform_pb.js";
import { MediaService } from "@caas/gen/caas/media/v1/media_service_pb.js";
import { connectMongo } from "@caas/shared/mongo";
import { caasServices, loadComposeServices, type ComposeCaasService } from "../support/compose-services.js";
import { composeAddressTable, composeOverrides, composeProcessEnv, type TestServers } from "../support/compose-topology.js";
import { spawnCluster, type SpawnedCluster } from "../support/spawn-cluster.js";
import { bearer, tenantWithUsers } from "../support/tenants.js";
import { wsConnection } from "./realtime-clients.js";

/**
 * The deployment of docker-compose.yml, without Docker: each CAAS service of the compose file
 * (chat and socket twice) runs its compose command with its compose environment, and compose's
 * network names (chat-1:3004, mongo-1:27017, kafka-2:9092, redis-socket:6379, minio:9000, ...)
 * reach this host's processes and the real test servers through a preload that reroutes those
 * connections in the spawned processes only (tests/support/compose-hosts.mjs; no /etc/hosts
 * change). What differs from compose is listed by composeOverrides: listen ports and host, and
 * what the shared test servers force. A smoke through the gateway then proves the wiring.
 */

const env = process.env;
const servers: TestServers | undefined =
  env.CAAS_KAFKA_BROKERS && env.CAAS_SCHEMA_REGISTRY_URL && env.CAAS_MONGO_URL && env.CAAS_REDIS_URL && env.CAAS_ELASTICSEARCH_URL && env.CAAS_S3_ENDPOINT
    ? {
        mongoUrl: env.CAAS_MONGO_URL,
        kafkaBrokers: env.CAAS_KAFKA_BROKERS.split(",").map((b) => b.trim()),
        schemaRegistryUrl: env.CAAS_SCHEMA_REGISTRY_URL,
        redisUrl: env.CAAS_REDIS_URL,
        elasticsearchUrl: env.CAAS_ELASTICSEARCH_URL,
        s3Endpoint: env.CAAS_S3_ENDPOINT,
        s3AccessKey: env.CAAS_S3_ACCESS_KEY ?? "",
        s3SecretKey: env.CAAS_S3_SECRET_KEY ?? "",
      }
    : undefined;
if (!servers && env.CAAS_REQUIRE_INFRA === "1") throw new Error("CAAS_REQUIRE_INFRA=1 but the test servers are not configured (source tests/infra/up's env file)");

/** What the processes may differ in from compose: nothing else is overridden. */
const ALLOWED_OVERRIDES =
  /^CAAS_((GATEWAY|AUTH|CHAT|SOCKET|MEDIA|SEARCH|COMPLIANCE|CRYPTO)_PORT|HOST|MONGO_URL|MONGO_DB|KAFKA_PREFIX|KAFKA_REPLICATION_FACTOR|SCHEMA_REGISTRY_URL|S3_ACCESS_KEY|S3_SECRET_KEY|S3_PUBLIC_ENDPOINT)$/;

describe.skipIf(!servers)("docker-compose.yml's topology on this host: the CAAS services from compose's own definitions", () => {
  const runPrefix = `caas_compose_${Date.now().toString(36)}_${process.pid}`;
  let services: ComposeCaasService[] = [];
  let cluster: SpawnedCluster;
  const overrides = new Map<string, Record<string, string>>();
  let startMs = 0;
  const url = (name: string) => cluster.info.instances.find((i) => i.instanceId === name)!.url;

  beforeAll(async () => {
    services = caasServices(await loadComposeServices());
    const started = Date.now();
    cluster = await spawnCluster({
      runPrefix,
      serverEnv: {},
      layout: services.map((s) => ({ service: s.kind, instanceId: s.name })),
      envFor: (p, all) => {
        const s = services.find((x) => x.name === p.instanceId)!;
        const o = composeOverrides(s, p, servers!, runPrefix);
        overrides.set(s.name, o);
        return composeProcessEnv(s, o, composeAddressTable(services, all, servers!));
      },
    });
    startMs = Date.now() - started;
    console.log(`compose topology: ${services.length} processes listening after ${startMs} ms`);
  }, 240_000);

  afterAll(async () => {
    if (!cluster) return;
    expect(await cluster.stop()).toBe(0);
    const mongo = await connectMongo(servers!.mongoUrl, runPrefix);
    await mongo.client.db(runPrefix).dropDatabase();
    await mongo.close();
  }, 60_000);

  it("starts every CAAS service of the compose file, chat and socket twice, changing only ports, host and what the test servers force", () => {
    expect(services.map((s) => `${s.name}=${s.kind}`)).toEqual([
      "auth=auth",
      "chat-1=chat",
      "chat-2=chat",
      "compliance=compliance",
      "crypto=crypto",
      "gateway=gateway",
      "media=media",
      "search=search",
      "socket-1=socket",
      "socket-2=socket",
    ]);
    for (const s of services) {
      const o = overrides.get(s.name)!;
      expect(
        Object.keys(o).filter((k) => !ALLOWED_OVERRIDES.test(k)),
        s.name,
      ).toEqual([]);
      // Peers stay compose's own names: the preload routes them, the environment does not.
      expect(o.CAAS_CHAT_URL).toBeUndefined();
      expect(s.environment.CAAS_CHAT_URL).toBe("http://chat-1:3004,http://chat-2:3004");
    }
  });

  it("smoke through the gateway: tenant, users, a conversation, a send, a live event on the other socket instance, a media upload, platform status", async () => {
    const gateway = url("gateway");
    const adminToken = services.find((s) => s.name === "gateway")!.environment.CAAS_ADMIN_TOKEN!;
    const t = await tenantWithUsers(gateway, adminToken, ["ann", "ben"], "compose");
    const chatAs = (user: string) => createClient(ChatService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(t.token(user))] }));
    const { conversation } = await chatAs("ann").createConversation({ type: ConversationType.DIRECT, memberIds: ["ben"] });
    const dm = conversation!.id;

    // Ben listens on socket-2 (Envoy would route his /ws there); Ann sends through the gateway,
    // which forwards to a chat instance; the event reaches socket-2 over Kafka.
    const ben = await wsConnection(url("socket-2"), "ben@socket-2");
    const ok = await ben.call({ id: 1n, frame: { case: "auth", value: { accessToken: t.token("ben") } } });
    expect(ok.frame.case).toBe("authOk");
    const ann = await wsConnection(url("socket-1"), "ann@socket-1");
    expect((await ann.call({ id: 1n, frame: { case: "auth", value: { accessToken: t.token("ann") } } })).frame.case).toBe("authOk");
    const sent = await chatAs("ann").sendMessage({ conversationId: dm, clientMessageId: "compose-1", text: "hello from compose" });
    const live = await ben.waitFor((f) => f.frame.case === "event" && f.frame.value.conversationId === dm && f.frame.value.payload.case === "messageCreated", 30_000, "the live message event");
    expect(live.frame.case === "event" && live.frame.value.seq).toBe(sent.seq);
    // And the other way round: a send on socket-1's connection reaches socket-2.
    const ack = await ann.call({ id: 2n, frame: { case: "send", value: { conversationId: dm, clientMessageId: "compose-2", text: "over the socket" } } });
    expect(ack.frame.case).toBe("sendAck");
    await ben.waitFor(
      (f) => f.frame.case === "event" && f.frame.value.payload.case === "messageCreated" && f.frame.value.payload.value.message?.text === "over the socket",
      30_000,
      "the second event",
    );
    ann.close();
    ben.close();

    // A media upload: the presigned form goes to the S3 server, the record to MongoDB.
    const media = createClient(MediaService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(t.token("ann"))] }));
    const bytes = randomBytes(20_000);
    const { media: m, upload } = await media.createUpload({ name: "compose.png", mimeType: "image/png", sizeBytes: BigInt(bytes.length) });
    const form = new FormData();
    for (const f of upload!.fields) form.append(f.name, f.value);
    form.append(upload!.fileField, new Blob([bytes]), "compose.png");
    expect((await fetch(upload!.url, { method: "POST", body: form })).status).toBeLessThan(300);
    expect((await media.completeUpload({ mediaId: m!.id })).media?.sizeBytes).toBe(BigInt(bytes.length));
    const download = await fetch((await media.getDownloadUrl({ mediaId: m!.id })).url);
    expect(Buffer.from(await download.arrayBuffer()).equals(bytes)).toBe(true);

    // Every instance SERVING, at the addresses compose names them by.
    const { status } = await createClient(PlatformService, createGrpcTransport({ baseUrl: gateway })).getPlatformStatus({});
    expect(status?.mode).toBe("cluster");
    expect(status?.state).toBe(ServingState.SERVING);
    expect(status?.services.map((s) => `${s.name}@${s.address}:${ServingState[s.state]}`).sort()).toEqual(
      [
        "auth@http://auth:3007",
        "chat@http://chat-1:3004",
        "chat@http://chat-2:3004",
        "compliance@http://compliance:3008",
        "crypto@http://crypto:3009",
        "gateway@http://gateway:3000",
        "media@http://media:3005",
        "search@http://search:3006",
        "socket@http://socket-1:3002",
        "socket@http://socket-2:3002",
      ]
        .map((x) => `${x}:SERVING`)
        .sort(),
    );
  }, 120_000);

  it("no process logged a secret", () => {
    const env = services.find((s) => s.name === "media")!.environment;
    const secrets = [env.CAAS_ADMIN_TOKEN!, env.CAAS_SERVICE_SECRET!, servers!.s3SecretKey].filter((s) => s.length >= 8);
    expect(secrets.length).toBeGreaterThanOrEqual(2);
    for (const file of cluster.info.logFiles) {
      const text = readFileSync(file, "utf8");
      expect(text.length, file).toBeGreaterThan(0);
      for (const secret of secrets) expect(text.includes(secret), `${file} holds a secret`).toBe(false);
    }
  });
});
