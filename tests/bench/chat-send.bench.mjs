// Benchmark: chat SendMessage on the compiled embedded platform. Reports acknowledged sends per
// second, ack latency, and ack-to-visible-in-history latency (a sample of acked messages read
// back by another member through Sync), each p50/p99.
//
// The platform runs as `node services/platform/dist/main.js` (embedded mode, free ports, a fresh
// data directory) pinned to core 0; the load runs in a separate process pinned to core 1
// (taskset, when available). Sends are spread over many users, each in a conversation of its
// own with a reader, so the per-user send limit (default 10/s, burst 20) is not what is measured;
// refusals (RESOURCE_EXHAUSTED) are counted and honoured (the sender waits the RetryInfo delay).
//
// Usage: npm run build && node tests/bench/chat-send.bench.mjs [seconds=10] [users=400] [concurrency=64] [--sync=full,normal] [--at-rest=on,off] [--cluster | --cluster-only]
//
// Baseline (same run, same load, same core): send-baseline-server.mjs, a bare Connect SendMessage
// handler doing one SQLite insert per call; chat's figure is reported as a ratio of it.
// --sync: the event log's SQLite `synchronous` (CAAS_EVENT_LOG_SYNC) for the embedded run and
// the baseline's; one run of each per mode listed (default full).
//
// --at-rest: encryption at rest of message bodies (CAAS_AT_REST_ENCRYPTION, ADR 0120) for the
// embedded runs; one run per setting listed (default on), so `--at-rest=off,on` gives the cost of
// sealing beside the same baseline.
//
// --cluster: after the embedded run (the baseline, measured in the same run), the same load
// against the cluster (tests/bench/cluster-platform.mjs: one process per service instance, chat
// and socket twice, on the real engines; `source ~/.cache/caas-infra/env` first). Sends spread
// over both chat instances; ack-to-visible reads through the other chat instance than the send.
// It also prints the MongoDB commands per acked send by service, command and collection, with the
// store time they took (tests/bench/mongo-command-counter.cjs). --cluster-only: that run alone
// (no baseline, no embedded run), for comparing cluster runs with each other.
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { RetryInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { clusterServerEnv, startClusterPlatform } from "./cluster-platform.mjs";
import { haveTaskset, pinned, quantiles, repoRoot, sleep, startEmbeddedPlatform } from "./embedded-platform.mjs";

const self = fileURLToPath(import.meta.url);
const bearer = (token) => (next) => (req) => {
  req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};

// ---------------------------------------------------------------------------------------------
// The load process: `node chat-send.bench.mjs --load` with the plan as JSON on stdin; prints the
// result as one JSON line.

async function load(plan) {
  // A few HTTP/2 connections (spread over the chat instances), the caller's token per call.
  const transports = Array.from({ length: 4 }, (_, i) => createGrpcTransport({ baseUrl: plan.chatUrls[i % plan.chatUrls.length] }));
  const clients = transports.map((t) => createClient(ChatService, t));
  const headersOf = (token) => ({ headers: { authorization: `Bearer ${token}` } });
  const ackMs = [];
  const visibleMs = [];
  let acked = 0;
  let limited = 0;
  let failed = 0;
  let next = 0;
  const started = performance.now();
  const end = started + plan.seconds * 1000;
  await Promise.all(
    Array.from({ length: plan.concurrency }, async (_, worker) => {
      const client = clients[worker % clients.length];
      // Read back through another chat instance when there is one (cluster).
      const reader = clients[(worker + 1) % clients.length];
      let n = 0;
      while (performance.now() < end) {
        const u = plan.users[next++ % plan.users.length];
        const t0 = performance.now();
        try {
          const ack = await client.sendMessage({ conversationId: u.conversationId, clientMessageId: `w${worker}-${n++}`, text: "benchmark message" }, headersOf(u.token));
          const t1 = performance.now();
          ackMs.push(t1 - t0);
          acked++;
          // Sample each worker's 1st, 11th, 21st... ack (a short run still gets samples).
          if (plan.sampleEvery > 0 && n % plan.sampleEvery === 1) {
            // Visible in history to another member: Sync from just before the acked seq.
            for (;;) {
              const page = await reader.sync({ conversationId: u.conversationId, afterSeq: ack.seq - 1n, limit: 1 }, headersOf(plan.readerToken));
              if (page.events.some((e) => e.seq === ack.seq)) break;
            }
            visibleMs.push(performance.now() - t1);
          }
        } catch (err) {
          const e = ConnectError.from(err);
          if (e.code !== Code.ResourceExhausted) {
            failed++;
            if (failed < 5) process.stderr.write(`send failed: ${e.message}\n`);
            continue;
          }
          limited++;
          const delay = e.findDetails(RetryInfoSchema)[0]?.retryDelay;
          await sleep(delay ? Number(delay.seconds) * 1000 + delay.nanos / 1e6 : 100);
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return { acked, sendsPerSec: Math.round(acked / elapsed), limited, failed, ackMs: quantiles(ackMs), ackToVisibleMs: quantiles(visibleMs) };
}

// ---------------------------------------------------------------------------------------------
// The coordinator: starts the platform, sets up a tenant, users and conversations, runs the load
// process and prints the result.

async function setup(platform, userCount) {
  const admin = createClient(TenantAdminService, createGrpcTransport({ baseUrl: platform.endpoints.auth, interceptors: [bearer(platform.adminCredential)] }));
  const { tenant } = await admin.createTenant({ name: `bench-${Date.now()}` });
  const { secret } = await admin.createApiKey({ tenantId: tenant.id, name: "bench" });
  const backend = createClient(UserAdminService, createGrpcTransport({ baseUrl: platform.endpoints.auth, interceptors: [bearer(secret)] }));
  const tokenOf = async (userId) => {
    await backend.upsertUser({ userId, displayName: userId });
    return (await backend.issueUserToken({ userId, deviceId: "bench" })).tokens.accessToken;
  };
  const readerToken = await tokenOf("reader");
  const chat = createClient(ChatService, createGrpcTransport({ baseUrl: platform.endpoints.chat }));
  const users = [];
  for (let i = 0; i < userCount; i += 20) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(20, userCount - i) }, async (_, j) => {
        const token = await tokenOf(`u${i + j}`);
        const { conversation } = await chat.createConversation({ type: ConversationType.GROUP, memberIds: ["reader"], title: `bench ${i + j}` }, { headers: { authorization: `Bearer ${token}` } });
        return { token, conversationId: conversation.id };
      }),
    );
    users.push(...batch);
  }
  return { users, readerToken };
}

/** Sets up users on `platform`, runs the load process against `chatUrls`, returns its result. */
async function measure(platform, chatUrls, { seconds, userCount, concurrency }) {
  const t = performance.now();
  const { users, readerToken } = await setup(platform, userCount);
  process.stderr.write(`set up ${users.length} users and conversations in ${((performance.now() - t) / 1000).toFixed(1)} s; loading for ${seconds} s\n`);
  const before = await settledMongoCommands(platform);
  const result = await withCpu(platform.pid, () => runLoad({ chatUrls, seconds, concurrency, sampleEvery: 10, users, readerToken }));
  const after = await settledMongoCommands(platform);
  return before === undefined ? result : { ...result, storeRoundTrips: roundTripsPerSend(before, after, result.acked) };
}

/** The cluster's MongoDB command counts once they stopped moving (the load's tail and the consumers settle); undefined in embedded mode. */
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
 * MongoDB round trips per acked send during the load (and the reads back of the samples), in
 * all: by instance kind (chat, socket, search, ...) and, for chat, by command. Everything the
 * load caused is in it: the commit, the reads that authorize it, projections, the relay, the
 * consumers of the event (projector, search, media), and the sampled history reads. `byTarget`
 * has, per service, command and collection, the round trips per send, the store time per send
 * (the driver's command durations, summed: time spent waiting, not all of it on the ack path)
 * and the mean time of one command.
 */
function roundTripsPerSend(before, after, acked) {
  const per = (n) => Number((n / Math.max(1, acked)).toFixed(2));
  const byService = {};
  const chatByCommand = {};
  const targets = {};
  for (const [instance, now] of Object.entries(after)) {
    const service = instance.replace(/-\d+$/, "");
    for (const [command, n] of Object.entries(now.counts ?? {})) {
      const d = n - (before[instance]?.counts?.[command] ?? 0);
      if (d === 0) continue;
      byService[service] = (byService[service] ?? 0) + d;
      if (service === "chat") chatByCommand[command] = (chatByCommand[command] ?? 0) + d;
    }
    for (const [target, t] of Object.entries(now.targets ?? {})) {
      const was = before[instance]?.targets?.[target] ?? { n: 0, ms: 0, failed: 0 };
      if (t.n === was.n) continue;
      const sum = (targets[`${service} ${target}`] ??= { n: 0, ms: 0, failed: 0 });
      sum.n += t.n - was.n;
      sum.ms += t.ms - was.ms;
      sum.failed += t.failed - was.failed;
    }
  }
  const total = Object.values(byService).reduce((a, b) => a + b, 0);
  const byTarget = Object.entries(targets)
    .sort(([, a], [, b]) => b.ms - a.ms)
    .map(([target, t]) => ({ target, perSend: per(t.n), msPerSend: per(t.ms), msEach: Number((t.ms / t.n).toFixed(2)), failed: t.failed }));
  return {
    total: per(total),
    byService: Object.fromEntries(Object.entries(byService).map(([k, v]) => [k, per(v)])),
    chatByCommand: Object.fromEntries(Object.entries(chatByCommand).map(([k, v]) => [k, per(v)])),
    byTarget,
  };
}

/** CPU seconds (user + system) process `pid` has used, from /proc; undefined where there is none. */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return undefined;
  }
}

/**
 * Runs `work` and adds the server's CPU time per acked send to its result: on a machine shared
 * with other work the rates move with the load, the CPU cost per send much less.
 */
async function withCpu(pid, work) {
  const before = pid === undefined ? undefined : cpuSeconds(pid);
  const result = await work();
  const after = pid === undefined ? undefined : cpuSeconds(pid);
  const cpuMsPerSend = before === undefined || after === undefined || result.acked === 0 ? null : Number((((after - before) * 1000) / result.acked).toFixed(3));
  return { ...result, cpuMsPerSend };
}

/** Runs the load process (pinned to core 1) with `plan`; returns its result. */
async function runLoad(plan) {
  const child = pinned(1, [self, "--load"], { cwd: repoRoot, stdio: ["pipe", "pipe", "inherit"] });
  child.stdin.end(JSON.stringify(plan));
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  const code = await new Promise((r) => child.once("exit", r));
  if (code !== 0) throw new Error(`the load process exited with ${code}`);
  return JSON.parse(out.trim().split("\n").pop());
}

/**
 * The same-run baseline: tests/bench/send-baseline-server.mjs (a bare Connect SendMessage handler
 * on the one-port listener, one SQLite insert per call, the same `synchronous`) pinned to core 0,
 * driven by the same load (no read-back samples: it keeps no history).
 */
async function measureBaseline({ seconds, userCount, concurrency }, sync) {
  const dir = mkdtempSync(join(tmpdir(), "caas-bench-baseline-"));
  const users = Array.from({ length: userCount }, (_, i) => ({ token: `token-${i}-${randomUUID()}`, userId: `u${i}`, conversationId: randomUUID() }));
  const server = pinned(0, [join(repoRoot, "tests/bench/send-baseline-server.mjs"), dir, sync], { cwd: repoRoot, stdio: ["pipe", "pipe", "inherit"] });
  try {
    server.stdin.end(users.map((u) => `${u.token} ${u.userId}`).join("\n"));
    const port = await new Promise((resolve, reject) => {
      server.stdout.once("data", (d) => resolve(Number(String(d).trim())));
      server.once("exit", (code) => reject(new Error(`the baseline server exited with ${code}`)));
    });
    return await withCpu(server.pid, () => runLoad({ chatUrls: [`http://127.0.0.1:${port}`], seconds, concurrency, sampleEvery: 0, users, readerToken: "" }));
  } finally {
    const exited = new Promise((r) => server.once("exit", r));
    server.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

async function coordinate() {
  const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
  const clusterOnly = process.argv.includes("--cluster-only");
  const withCluster = clusterOnly || process.argv.includes("--cluster");
  const syncModes = (process.argv.find((a) => a.startsWith("--sync="))?.slice("--sync=".length) ?? "full").split(",");
  for (const m of syncModes) if (m !== "full" && m !== "normal") throw new Error(`--sync takes full and/or normal, not ${m}`);
  const atRestModes = (process.argv.find((a) => a.startsWith("--at-rest="))?.slice("--at-rest=".length) ?? "on").split(",");
  for (const m of atRestModes) if (m !== "on" && m !== "off") throw new Error(`--at-rest takes on and/or off, not ${m}`);
  if (withCluster) clusterServerEnv(); // fail before the embedded run when the engines are not configured
  const seconds = Number(args[0] ?? 10);
  const userCount = Number(args[1] ?? 400);
  const concurrency = Number(args[2] ?? 64);
  const shape = { seconds, userCount, concurrency };
  process.stderr.write(haveTaskset ? "platform pinned to core 0, load pinned to core 1\n" : "taskset unavailable (or one core): processes not pinned\n");
  const results = [];
  for (const sync of clusterOnly ? [] : syncModes) {
    const baseline = { mode: `baseline (sync ${sync})`, ...(await measureBaseline(shape, sync)) };
    for (const atRest of atRestModes) {
      const platform = await startEmbeddedPlatform("bench-chat", { env: { CAAS_EVENT_LOG_SYNC: sync, CAAS_AT_REST_ENCRYPTION: atRest } });
      try {
        const embedded = await measure(platform, [platform.endpoints.chat], shape);
        // Two ratios: of the rates, and of CPU per send (the steadier one when the machine is shared).
        const cpuRatio = embedded.cpuMsPerSend && baseline.cpuMsPerSend ? Number((baseline.cpuMsPerSend / embedded.cpuMsPerSend).toFixed(2)) : null;
        const mode = atRestModes.length > 1 ? `embedded (sync ${sync}, at rest ${atRest})` : `embedded (sync ${sync})`;
        results.push({ mode, ...embedded, ratio: Number((embedded.sendsPerSec / baseline.sendsPerSec).toFixed(2)), cpuRatio });
      } finally {
        await platform.stop();
      }
    }
    results.push(baseline);
  }
  if (withCluster) {
    process.stderr.write("starting the cluster (10 processes on the real engines)\n");
    const cluster = await startClusterPlatform((args, opts) => pinned(0, args, opts));
    try {
      results.push({ mode: "cluster", ...(await measure(cluster, cluster.chatUrls, shape)) });
    } finally {
      await cluster.stop();
    }
  }
  console.table(
    results.map((result) => ({
      mode: result.mode,
      "acked sends/s": result.sendsPerSec,
      "x baseline": result.ratio ?? "",
      "server CPU ms/send": result.cpuMsPerSend ?? "",
      "x baseline (CPU)": result.cpuRatio ?? "",
      "ack p50 ms": result.ackMs.p50,
      "ack p99 ms": result.ackMs.p99,
      "ack→visible p50 ms": result.ackToVisibleMs.p50,
      "ack→visible p99 ms": result.ackToVisibleMs.p99,
      "store round trips/send": result.storeRoundTrips?.total ?? "",
      "rate limited": result.limited,
      failed: result.failed,
    })),
  );
  for (const result of results.filter((r) => r.storeRoundTrips)) {
    process.stdout.write(`MongoDB commands of the ${result.mode} run, per acked send (service, command, collection; by store time):\n`);
    console.table(
      result.storeRoundTrips.byTarget.map((t) => ({ "service command collection": t.target, "round trips/send": t.perSend, "ms/send": t.msPerSend, "ms each": t.msEach, failed: t.failed })),
    );
  }
  for (const result of results) {
    console.log(JSON.stringify({ node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, pinned: haveTaskset, seconds, users: userCount, concurrency, ...result }));
  }
  // A smoke run (CI) fails when any send failed: the scripts cannot rot silently.
  if (results.some((r) => r.failed > 0 || r.acked === 0)) process.exitCode = 1;
}

if (process.argv[2] === "--load") {
  let input = "";
  for await (const chunk of process.stdin) input += chunk;
  const result = await load(JSON.parse(input));
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
} else {
  await coordinate();
  process.exit(process.exitCode ?? 0);
}
