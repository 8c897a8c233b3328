import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { RealtimeService } from "@caas/gen/caas/realtime/v1/realtime_service_pb.js";
import { RetryInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { createGatewayService } from "@caas/gateway";
import { createEventBusForConfig } from "@caas/shared/eventing/select";
import { createLogger } from "@caas/shared/logger";
import { loadConfig, SERVICE_NAMES } from "@caas/shared/config";
import { PeerDirectory } from "@caas/shared/clients";
import { RevocationSet } from "@caas/shared/identity/revocations";
import { startServiceHost, type RunningService } from "@caas/shared/server/service-host";
import { systemClock } from "@caas/shared/clock";
import type { EventBus } from "@caas/shared/eventing/bus";

const platform = inject("embedded");
const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();
const bearer =
  (credential: string): Interceptor =>
  (next) =>
  (req) => {
    req.header.set("authorization", `Bearer ${credential}`);
    return next(req);
  };

/** A tenant of the test platform with `userIds`, and an access token per user. */
async function tenantWithUsers(userIds: string[]) {
  const auth = platform.endpoints.auth!;
  const admin = createClient(TenantAdminService, createGrpcTransport({ baseUrl: auth, interceptors: [bearer(adminCredential)] }));
  const { tenant } = await admin.createTenant({ name: "gateway-rate-limits" });
  const { secret } = await admin.createApiKey({ tenantId: tenant!.id, name: "backend" });
  const backend = createClient(UserAdminService, createGrpcTransport({ baseUrl: auth, interceptors: [bearer(secret)] }));
  const tokens: Record<string, string> = {};
  for (const userId of userIds) {
    await backend.upsertUser({ userId, displayName: userId });
    tokens[userId] = (await backend.issueUserToken({ userId, deviceId: "d1" })).tokens!.accessToken;
  }
  return (userId: string) => tokens[userId]!;
}

/*
 * A gateway of its own (tight limits from CAAS_RATE_LIMITS: 3 calls a minute per user, a tenant
 * 2x that) in front of the test platform's services, driven over the network by real clients.
 */
describe("gateway rate limits over the network", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "caas-gw-rl-"));
  let gateway: RunningService;
  let bus: EventBus;

  beforeAll(async () => {
    const config = loadConfig({
      CAAS_DATA_DIR: dataDir,
      CAAS_LOG_LEVEL: "silent",
      CAAS_INSTANCE_ID: "gateway-rate-limits",
      CAAS_RATE_LIMITS: "default=3/min,message.send=3/min",
      CAAS_RATE_LIMIT_TENANT_FACTOR: "2",
    });
    const logger = createLogger({ service: "gateway", instance: config.instanceId, level: "silent" });
    const peers = new PeerDirectory();
    for (const name of SERVICE_NAMES) if (name !== "gateway" && platform.endpoints[name]) peers.set(name, [platform.endpoints[name]]);
    bus = await createEventBusForConfig(config, logger, systemClock);
    const definition = await createGatewayService({ config, logger, clock: systemClock, peers, bus, revocations: new RevocationSet(systemClock) });
    gateway = await startServiceHost({ definition, config, logger, port: 0, clock: systemClock });
  });

  afterAll(async () => {
    await gateway?.close();
    await bus?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("answers RESOURCE_EXHAUSTED with RetryInfo past a user's limit; one tenant's exhaustion leaves another alone", async () => {
    const t1 = await tenantWithUsers(["a1", "a2", "a3"]);
    const t2 = await tenantWithUsers(["a1"]);
    const chat = (token: string, http2 = true) =>
      createClient(
        ChatService,
        http2 ? createGrpcTransport({ baseUrl: gateway.url, interceptors: [bearer(token)] }) : createConnectTransport({ baseUrl: gateway.url, httpVersion: "1.1", interceptors: [bearer(token)] }),
      );
    const refused = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );

    // a1: three calls forwarded to chat and answered, the fourth refused at the edge.
    for (let i = 0; i < 3; i++) expect((await chat(t1("a1")).listConversations({})).conversations).toEqual([]);
    const userErr = await refused(chat(t1("a1"), false).listConversations({}));
    expect(userErr?.code).toBe(Code.ResourceExhausted);
    expect(userErr?.rawMessage).toMatch(/this user/);
    const delay = userErr!.findDetails(RetryInfoSchema)[0]?.retryDelay;
    const delayMs = Number(delay?.seconds ?? 0n) * 1000 + (delay?.nanos ?? 0) / 1e6;
    // One token comes back every 20 s (3 a minute).
    expect(delayMs).toBeGreaterThan(15_000);
    expect(delayMs).toBeLessThanOrEqual(20_000);

    // a2 takes the rest of the tenant's 6; a3 is then refused by the tenant bucket.
    for (let i = 0; i < 3; i++) await chat(t1("a2")).listConversations({});
    const tenantErr = await refused(chat(t1("a3")).listConversations({}));
    expect(tenantErr?.code).toBe(Code.ResourceExhausted);
    expect(tenantErr?.rawMessage).toMatch(/this tenant/);
    expect(tenantErr!.findDetails(RetryInfoSchema)).toHaveLength(1);

    // The same user id in another tenant has buckets of its own.
    expect((await chat(t2("a1")).listConversations({})).conversations).toEqual([]);
    // Sends are not counted here at all (ADR 0023): chat counts every send, on every path, so
    // five sends pass this gateway's message.send=3/min (chat's own budget is the platform's) and
    // leave the user's `default` bucket as it was: a1 of t2 made 2 calls of it, the third passes.
    const { conversation } = await chat(t2("a1")).createConversation({ type: ConversationType.GROUP });
    for (let i = 0; i < 5; i++) {
      expect((await chat(t2("a1")).sendMessage({ conversationId: conversation!.id, clientMessageId: `m${i}`, text: "hi" })).seq).toBe(BigInt(i + 2));
    }
    expect((await chat(t2("a1")).listConversations({})).conversations).toHaveLength(1);
    expect((await refused(chat(t2("a1")).listConversations({})))?.code).toBe(Code.ResourceExhausted);
  });

  it("forwards streams and counts each one once, when it is opened", async () => {
    const t = await tenantWithUsers(["s1"]);
    const realtime = createClient(RealtimeService, createGrpcTransport({ baseUrl: gateway.url, interceptors: [bearer(t("s1"))] }));
    /** Opens a Subscribe stream and returns its first frame's case, or the error code. */
    const firstFrame = async () => {
      const abort = new AbortController();
      try {
        for await (const res of realtime.subscribe({}, { signal: abort.signal })) return res.frame?.frame.case;
        return "ended";
      } catch (e) {
        return ConnectError.from(e).code;
      } finally {
        abort.abort();
      }
    };
    for (let i = 0; i < 3; i++) expect(await firstFrame()).toBe("authOk");
    expect(await firstFrame()).toBe(Code.ResourceExhausted);

    // Bidi streams too (gRPC over HTTP/2): forwarded both ways, counted once when opened.
    const t2 = await tenantWithUsers(["s2"]);
    const bidi = createClient(RealtimeService, createGrpcTransport({ baseUrl: gateway.url, interceptors: [bearer(t2("s2"))] }));
    const connectOnce = async () => {
      const abort = new AbortController();
      // Authenticated by the Authorization header (socket answers AuthOk without an auth frame);
      // the upward stream stays open until the test has its answer.
      async function* frames() {
        await new Promise((r) => abort.signal.addEventListener("abort", r));
        yield* [];
      }
      try {
        for await (const res of bidi.connect(frames(), { signal: abort.signal })) return res.frame?.frame.case;
        return "ended";
      } catch (e) {
        return ConnectError.from(e).code;
      } finally {
        abort.abort();
      }
    };
    for (let i = 0; i < 3; i++) expect(await connectOnce()).toBe("authOk");
    expect(await connectOnce()).toBe(Code.ResourceExhausted);
  });
});
