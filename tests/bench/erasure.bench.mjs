// Benchmark: GDPR erasure of one user with many messages on the compiled platform (embedded; cluster with --cluster).
// Seeds a user who sent `messages` messages spread over `conversations` conversations (with a
// second member), then times PrivacyService.RequestErasure until GetJob reports SUCCEEDED (auth:
// sessions and profile; chat: every message deleted for everyone through the log, with its
// redaction), and reports the job's per-service items and messages erased per second.
// The seeding calls chat directly (not the gateway, whose edge limits would pace it) with the
// per-user send limit raised (CAAS_RATE_LIMITS message.send).
//
// With --cluster the platform is the cluster (tests/bench/cluster-platform.mjs: ten processes on the
// real engines, needs `source ~/.cache/caas-infra/env`) and the messages are sent through both
// chat instances in parallel; the erasure then runs on the compliance instance, over the mesh, as
// in production.
//
// Usage: npm run build && node tests/bench/erasure.bench.mjs [messages=10000] [conversations=100] [--cluster]
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { PrivacyJobState, PrivacyService } from "@caas/gen/caas/compliance/v1/privacy_service_pb.js";
import { pinned, sleep, startEmbeddedPlatform } from "./embedded-platform.mjs";
import { startClusterPlatform } from "./cluster-platform.mjs";

const args = process.argv.slice(2);
const cluster = args.includes("--cluster");
const [messages = 10_000, conversations = 100] = args.filter((a) => !a.startsWith("--")).map(Number);
const bearer = (token) => (next) => (req) => {
  req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};

process.env.CAAS_BENCH_ENV_CAAS_RATE_LIMITS ??= "message.send=100000/s";
// Cluster: the service processes on core 0, as the other cluster benchmarks run them.
const platform = cluster ? await startClusterPlatform((a, o) => pinned(0, a, o)) : await startEmbeddedPlatform("erasure-bench");
try {
  const { auth, compliance } = platform.endpoints;
  const chatUrls = platform.chatUrls ?? [platform.endpoints.chat];
  const admin = createClient(TenantAdminService, createGrpcTransport({ baseUrl: auth, interceptors: [bearer(platform.adminCredential)] }));
  const { tenant } = await admin.createTenant({ name: "erasure-bench" });
  const { secret } = await admin.createApiKey({ tenantId: tenant.id, name: "bench" });
  const users = createClient(UserAdminService, createGrpcTransport({ baseUrl: auth, interceptors: [bearer(secret)] }));
  for (const userId of ["alice", "bob"]) await users.upsertUser({ userId, displayName: userId });
  // A fresh access token every 1000 sends: seeding on a loaded machine can outlast one.
  let token = (await users.issueUserToken({ userId: "alice", deviceId: "bench" })).tokens.accessToken;
  const chats = chatUrls.map((baseUrl) => createClient(ChatService, createGrpcTransport({ baseUrl, interceptors: [(next) => (req) => bearer(token)(next)(req)] })));
  const alice = chats[0];

  let t = performance.now();
  const ids = [];
  for (let c = 0; c < conversations; c++) ids.push((await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: `c${c}` })).conversation.id);
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async (_, w) => {
      const sender = chats[w % chats.length];
      for (let i = next++; i < messages; i = next++) {
        if (i % 1000 === 999) token = (await users.issueUserToken({ userId: "alice", deviceId: "bench" })).tokens.accessToken;
        await retried(() => sender.sendMessage({ conversationId: ids[i % conversations], clientMessageId: `m${i}`, text: `message ${i} from the user to be erased` }));
      }
    }),
  );
  const seedS = (performance.now() - t) / 1000;

  const privacy = createClient(PrivacyService, createGrpcTransport({ baseUrl: compliance, interceptors: [bearer(secret)] }));
  const before = await settledMongoCommands(platform);
  t = performance.now();
  const { job } = await privacy.requestErasure({ userId: "alice" });
  let done;
  for (;;) {
    done = (await retried(() => privacy.getJob({ jobId: job.id }))).job;
    if (done.state !== PrivacyJobState.RUNNING) break;
    await sleep(50);
  }
  const eraseS = (performance.now() - t) / 1000;
  if (done.state !== PrivacyJobState.SUCCEEDED) throw new Error(`erasure failed: ${done.error}`);
  const items = Object.fromEntries(done.services.map((s) => [s.service, Number(s.items)]));
  // Cluster: the MongoDB round trips of the erasure (and of what its events caused downstream), per erased message.
  const after = before && (await settledMongoCommands(platform));
  console.log(
    JSON.stringify({
      mode: cluster ? "cluster" : "embedded",
      messages,
      conversations,
      seedSeconds: +seedS.toFixed(1),
      erasureSeconds: +eraseS.toFixed(2),
      messagesErasedPerSecond: Math.round(messages / eraseS),
      items,
      ...(after ? { storeRoundTripsPerMessage: roundTripsPer(before, after, messages) } : {}),
    }),
  );
} finally {
  await platform.stop();
}

/**
 * A call retried after a pause, as a client would, when a loaded machine sheds it or lets it time
 * out (RESOURCE_EXHAUSTED, UNAVAILABLE, DEADLINE_EXCEEDED): the seeding's sends (same
 * client_message_id, so each is committed once) and the job polls.
 */
async function retried(send) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (err) {
      if (!(err instanceof ConnectError) || ![Code.ResourceExhausted, Code.Unavailable, Code.DeadlineExceeded].includes(err.code) || attempt >= 50) throw err;
      await sleep(200 + Math.random() * 800);
    }
  }
}

/** The cluster's MongoDB command counts once they stopped moving (relay and consumers settled); undefined in embedded mode. */
async function settledMongoCommands(platform) {
  if (!platform.mongoCommands) return undefined;
  let last = JSON.stringify(platform.mongoCommands());
  for (let i = 0; i < 20; i++) {
    await sleep(500);
    const now = JSON.stringify(platform.mongoCommands());
    if (now === last) break;
    last = now;
  }
  return JSON.parse(last);
}

/**
 * MongoDB round trips between two snapshots per erased message: in all, by service, and chat's
 * by command and collection with the store time per message (the driver's command durations).
 */
function roundTripsPer(before, after, n) {
  const per = (v) => Number((v / Math.max(1, n)).toFixed(2));
  const byService = {};
  const chat = {};
  for (const [instance, now] of Object.entries(after)) {
    const service = instance.replace(/-\d+$/, "");
    for (const [target, t] of Object.entries(now.targets ?? {})) {
      const was = before[instance]?.targets?.[target] ?? { n: 0, ms: 0 };
      if (t.n === was.n) continue;
      byService[service] = (byService[service] ?? 0) + t.n - was.n;
      if (service !== "chat") continue;
      const sum = (chat[target] ??= { n: 0, ms: 0 });
      sum.n += t.n - was.n;
      sum.ms += t.ms - was.ms;
    }
  }
  const total = Object.values(byService).reduce((a, b) => a + b, 0);
  return {
    total: per(total),
    byService: Object.fromEntries(Object.entries(byService).map(([k, v]) => [k, per(v)])),
    chatByTarget: Object.entries(chat)
      .sort(([, a], [, b]) => b.ms - a.ms)
      .map(([target, t]) => ({ target, perMessage: per(t.n), msPerMessage: per(t.ms) })),
  };
}
