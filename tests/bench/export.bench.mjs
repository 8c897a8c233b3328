// Benchmark: GDPR export of one user with many messages on the compiled embedded platform.
// Seeds a user who sent `messages` messages spread over `conversations` conversations (with a
// second member), then times PrivacyService.RequestExport until GetJob reports SUCCEEDED (auth,
// chat, media, compliance, then packing the tar in media's blob store), downloads the archive
// through GetExportDownload's URL, and reports the job's per-service items, messages exported per
// second, the archive's size, and the platform's RSS before and after (VmRSS) and its peak (VmHWM),
// to show memory does not follow the export's size; RSS is also sampled every 100 ms while the
// export runs (`duringExportMax`), since VmHWM includes the seeding.
// The seeding calls chat directly with the per-user send limit raised, as erasure.bench.mjs does.
//
// Usage: npm run build && node tests/bench/export.bench.mjs [messages=10000] [conversations=100] [senders=16]
import { readFileSync } from "node:fs";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { PrivacyJobState, PrivacyService } from "@caas/gen/caas/compliance/v1/privacy_service_pb.js";
import { sleep, startEmbeddedPlatform } from "./embedded-platform.mjs";

const messages = Number(process.argv[2] ?? 10_000);
const conversations = Number(process.argv[3] ?? 100);
const senders = Number(process.argv[4] ?? 16);
const bearer = (token) => (next) => (req) => {
  req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};
/** A /proc/<pid>/status memory line in MiB. */
const memMiB = (pid, field) => Math.round(Number(readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`${field}:\\s+(\\d+)`))[1]) / 1024);

process.env.CAAS_BENCH_ENV_CAAS_RATE_LIMITS ??= "message.send=100000/s";
const platform = await startEmbeddedPlatform("export-bench");
try {
  const { auth, chat, compliance } = platform.endpoints;
  const admin = createClient(TenantAdminService, createGrpcTransport({ baseUrl: auth, interceptors: [bearer(platform.adminCredential)] }));
  const { tenant } = await admin.createTenant({ name: "export-bench" });
  const { secret } = await admin.createApiKey({ tenantId: tenant.id, name: "bench" });
  const users = createClient(UserAdminService, createGrpcTransport({ baseUrl: auth, interceptors: [bearer(secret)] }));
  for (const userId of ["alice", "bob"]) await users.upsertUser({ userId, displayName: userId });
  let token = (await users.issueUserToken({ userId: "alice", deviceId: "bench" })).tokens.accessToken;
  const alice = createClient(ChatService, createGrpcTransport({ baseUrl: chat, interceptors: [(next) => (req) => bearer(token)(next)(req)] }));

  let t = performance.now();
  const ids = [];
  for (let c = 0; c < conversations; c++) ids.push((await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: `c${c}` })).conversation.id);
  let next = 0;
  await Promise.all(
    Array.from({ length: senders }, async () => {
      for (let i = next++; i < messages; i = next++) {
        if (i % 1000 === 999) token = (await users.issueUserToken({ userId: "alice", deviceId: "bench" })).tokens.accessToken;
        await alice.sendMessage({ conversationId: ids[i % conversations], clientMessageId: `m${i}`, text: `message ${i} from the user who asks for their data` });
      }
    }),
  );
  const seedS = (performance.now() - t) / 1000;
  const rssBefore = memMiB(platform.pid, "VmRSS");

  const privacy = createClient(PrivacyService, createGrpcTransport({ baseUrl: compliance, interceptors: [bearer(secret)] }));
  let duringExportMax = rssBefore;
  const sampler = setInterval(() => (duringExportMax = Math.max(duringExportMax, memMiB(platform.pid, "VmRSS"))), 100);
  t = performance.now();
  const { job } = await privacy.requestExport({ userId: "alice" });
  let done;
  for (;;) {
    done = (await privacy.getJob({ jobId: job.id })).job;
    if (done.state !== PrivacyJobState.RUNNING) break;
    await sleep(50);
  }
  const exportS = (performance.now() - t) / 1000;
  clearInterval(sampler);
  if (done.state !== PrivacyJobState.SUCCEEDED) throw new Error(`export failed: ${done.error}`);
  const rssAfter = memMiB(platform.pid, "VmRSS");
  const download = await privacy.getExportDownload({ jobId: job.id });
  const archive = Buffer.from(await (await fetch(download.url)).arrayBuffer());
  if (archive.length !== Number(download.size)) throw new Error("downloaded archive size differs");
  const items = Object.fromEntries(done.services.map((s) => [s.service, Number(s.items)]));
  console.log(
    JSON.stringify({
      messages,
      conversations,
      seedSeconds: +seedS.toFixed(1),
      exportSeconds: +exportS.toFixed(2),
      messagesExportedPerSecond: Math.round(messages / exportS),
      archiveMiB: +(archive.length / 1048576).toFixed(1),
      items,
      platformRssMiB: { beforeExport: rssBefore, duringExportMax, afterExport: rssAfter, peak: memMiB(platform.pid, "VmHWM") },
    }),
  );
} finally {
  await platform.stop();
}
