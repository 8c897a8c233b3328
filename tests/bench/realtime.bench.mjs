// Benchmark: realtime fan-out of the socket service against bare `ws` broadcast
// servers measured in the same run.
//
//   (a) fan-out deliveries per second: one 1000-member conversation, and 100 conversations of 100
//       members, every member on its own WebSocket connection at /ws;
//   (b) send-to-receive latency p50/p99 in small conversations (200 conversations of 3 members)
//       at half of the highest load the server sustained in that shape;
//   (c) memory per idle connection at 10 000 authenticated connections;
//   (d) the same shapes on a bare `ws` broadcast server that writes each message with one
//       ws.send per connection ("bare ws, direct"), and one that queues each connection's
//       messages and writes them corked once per tick ("bare ws, coalesced", what the socket
//       service does), and the ratios of ours to each;
//   (e) the same shapes on a real peer, Centrifugo v6 (memory engine, every channel with history
//       and recovery on, clients publishing into their channel over the same WebSocket;
//       tests/bench/centrifugo.mjs), when its binary is installed (tests/ci/centrifugo.sh).
//
// Method. The server under test (the compiled embedded platform, or a bare server) runs pinned
// to core 0; the load (all client connections, senders and receivers) runs in one separate
// process pinned to core 1 (taskset). Load is offered open-loop: senders send at a fixed rate R
// (messages per second, spread over several senders so the per-user send limit is not what is
// measured) for a step of a few seconds, then R doubles. A step's delivered rate is the frames
// received by all connections during the step divided by its length; the reported throughput
// is the highest delivered rate of any step (the server saturates and delivered/s stops
// growing, or connections are closed as slow consumers, which ends the ramp). Receivers count
// frames without decoding them (the first byte tells an event frame), so the load process can
// keep up; latency is read from a timestamp carried in the message text.
//
// Usage: npm run build && node tests/bench/realtime.bench.mjs [step-seconds=4] [idle-connections=10000]
//        (CAAS_BENCH_ONLY=fanout,latency,memory to run a subset; CAAS_BENCH_LATENCY_RATE=<msgs/s> to
//        measure latency at that rate rather than half the ramp's; CAAS_BENCH_SERVERS=ours,direct,
//        coalesced,centrifugo to choose servers; CAAS_BENCH_SMOKE=1 for tiny shapes, the CI smoke)
//        The load process and the bare servers are tests/bench/realtime-load.mjs; the socket
//        service's fan-out alone is tests/bench/realtime-hub.bench.mjs.
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
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
import { centrifugoBinary, centrifugoToken, startCentrifugo } from "./centrifugo.mjs";
import { cpuMs, haveTaskset, pinned, repoRoot, sleep, startEmbeddedPlatform } from "./embedded-platform.mjs";

/** The load process and the bare ws servers (realtime-load.mjs). */
const LOAD_SCRIPT = fileURLToPath(new URL("./realtime-load.mjs", import.meta.url));
/** Node flags for every server under test: SIGUSR2 then runs a full GC (gc-on-signal.cjs). */
const GC_ON_SIGNAL = ["--expose-gc", "--require", join(repoRoot, "tests/bench/gc-on-signal.cjs")];

/** Where servers write their memory use after a full GC (gc-on-signal.cjs). */
const MEMORY_FILE = process.env.CAAS_BENCH_MEMORY_FILE ?? join(mkdtempSync(join(tmpdir(), "caas-bench-mem-")), "memory.jsonl");
process.env.CAAS_BENCH_MEMORY_FILE = MEMORY_FILE; // bare servers inherit the environment
process.env.CAAS_BENCH_ENV_CAAS_BENCH_MEMORY_FILE = MEMORY_FILE; // the platform gets CAAS_BENCH_ENV_*

/**
 * The JS heap `pid` holds after a full garbage collection, in KiB (SIGUSR2, see GC_ON_SIGNAL), and
 * the young generation's size just before it (KiB).
 */
async function liveHeap(pid) {
  const lines = () => (existsSync(MEMORY_FILE) ? readFileSync(MEMORY_FILE, "utf8").trim().split("\n").filter(Boolean) : []);
  const n = lines().length;
  process.kill(pid, "SIGUSR2");
  for (let i = 0; i < 100 && lines().length === n; i++) await sleep(50);
  const m = JSON.parse(lines().at(-1));
  return { kib: (m.heapUsed + m.external) / 1024, newSpaceKiB: m.spacesKiB?.new_space ?? NaN };
}

const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN);
/**
 * Waits until `pid` used under 10 % of a core over 500 ms (at most 30 s); returns how long it
 * waited. Used after an overloaded ramp, before a measurement at a fixed rate.
 */
async function settle(pid) {
  const t0 = Date.now();
  while (Date.now() - t0 < 30_000) {
    const c0 = cpuMs(pid);
    await sleep(500);
    if (cpuMs(pid) - c0 < 50) break;
  }
  return Date.now() - t0;
}

// ---------------------------------------------------------------------------------------------
// The coordinator.

async function startBare(mode) {
  const child = pinned(0, [...GC_ON_SIGNAL, LOAD_SCRIPT, "--bare", mode], { cwd: repoRoot, stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  for await (const chunk of child.stdout) {
    out += chunk;
    if (out.includes("\n")) break;
  }
  const { port } = JSON.parse(out);
  return {
    pid: child.pid,
    url: `ws://127.0.0.1:${port}`,
    stop: async () => {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

// Auth issues at most 600 tokens per tenant per minute: users are spread over tenants of at
// most this many (a room never spans tenants), and a refusal waits out its RetryInfo delay.
const USERS_PER_TENANT = 500;

/** A tenant on the platform with `count` users and their access tokens (issued now: they live 5 minutes). */
async function tenantUsers(platform, count, prefix) {
  process.stderr.write(`  setting up ${count} users (${prefix})\n`);
  const bearer = (t) => (next) => (req) => {
    req.header.set("authorization", `Bearer ${t}`);
    return next(req);
  };
  const admin = createClient(TenantAdminService, createGrpcTransport({ baseUrl: platform.endpoints.auth, interceptors: [bearer(platform.adminCredential)] }));
  const { tenant } = await admin.createTenant({ name: `bench-rt-${prefix}-${Date.now()}` });
  if (process.env.CAAS_BENCH_DEBUG) process.stderr.write(`  tenant ${tenant.id}\n`);
  const { secret } = await admin.createApiKey({ tenantId: tenant.id, name: "bench" });
  const backend = createClient(UserAdminService, createGrpcTransport({ baseUrl: platform.endpoints.auth, interceptors: [bearer(secret)] }));
  const issue = async (userId) => {
    for (;;) {
      try {
        return (await backend.issueUserToken({ userId, deviceId: "bench" })).tokens.accessToken;
      } catch (err) {
        const e = ConnectError.from(err);
        if (e.code !== Code.ResourceExhausted) throw e;
        if (process.env.CAAS_BENCH_DEBUG) process.stderr.write(`  ${e.message}\n`);
        const d = e.findDetails(RetryInfoSchema)[0]?.retryDelay;
        await sleep(d ? Number(d.seconds) * 1000 + d.nanos / 1e6 + 50 : 1000);
      }
    }
  };
  const users = [];
  for (let i = 0; i < count; i += 50) {
    users.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(50, count - i) }, async (_, j) => {
          const userId = `${prefix}${i + j}`;
          await backend.upsertUser({ userId, displayName: userId });
          // Tokens live 5 minutes: they are issued right before the connections open (freshTokens).
          return { userId, issue: () => issue(userId) };
        }),
      )),
    );
  }
  return users;
}

/** Issues every member a new access token (just before its connections open: tokens live 5 minutes). */
async function freshTokens(members) {
  for (let i = 0; i < members.length; i += 50) await Promise.all(members.slice(i, i + 50).map(async (m) => (m.token = await m.issue())));
  return members;
}

/** `count` users over as many tenants as needed. */
async function manyUsers(platform, count, prefix) {
  const users = [];
  for (let i = 0; i < count; i += USERS_PER_TENANT) users.push(...(await tenantUsers(platform, Math.min(USERS_PER_TENANT, count - i), `${prefix}t${i}-`)));
  return users;
}

/** `rooms` conversations of `size` members each on the platform; every member with a token. */
async function ourRooms(platform, rooms, size, prefix) {
  const roomsPerTenant = Math.max(1, Math.floor(USERS_PER_TENANT / size));
  const members = [];
  for (let t = 0; t < rooms; t += roomsPerTenant) {
    const n = Math.min(roomsPerTenant, rooms - t);
    const users = await tenantUsers(platform, n * size, `${prefix}t${t}-`);
    members.push(...(await roomsOf(platform, users, n, size)));
  }
  return members;
}

async function roomsOf(platform, users, rooms, size) {
  const chat = createClient(ChatService, createGrpcTransport({ baseUrl: platform.endpoints.chat }));
  const members = [];
  for (let r = 0; r < rooms; r += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, rooms - r) }, async (_, k) => {
        const room = users.slice((r + k) * size, (r + k + 1) * size);
        const owner = room[0];
        const auth = { headers: { authorization: `Bearer ${await owner.issue()}` } };
        const { conversation } = await chat.createConversation({ type: ConversationType.GROUP, title: `bench ${r + k}`, memberIds: room.slice(1, 100).map((u) => u.userId) }, auth);
        for (let i = 100; i < room.length; i += 100) {
          await chat.addMembers({ conversationId: conversation.id, userIds: room.slice(i, i + 100).map((u) => u.userId) }, auth);
        }
        for (const u of room) members.push({ ...u, room: conversation.id });
      }),
    );
  }
  return members;
}

const bareRooms = (rooms, size) => Array.from({ length: rooms * size }, (_, i) => ({ room: `room-${Math.floor(i / size)}` }));

async function coordinate() {
  const stepSeconds = Number(process.argv[2] ?? 4);
  const idleCount = Number(process.argv[3] ?? 10_000);
  const only = new Set((process.env.CAAS_BENCH_ONLY ?? "fanout,latency,memory").split(","));
  process.stderr.write(haveTaskset ? "server pinned to core 0, load pinned to core 1\n" : "taskset unavailable (or one core): processes not pinned\n");
  const load = pinned(1, ["--max-old-space-size=4096", LOAD_SCRIPT, "--load"], { cwd: repoRoot, stdio: ["pipe", "pipe", "inherit"] });
  const replies = (async function* () {
    let buf = "";
    for await (const chunk of load.stdout) {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        yield JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    }
  })();
  const ask = async (plan) => {
    load.stdin.write(`${JSON.stringify(plan)}\n`);
    const { value } = await replies.next();
    return value;
  };
  const results = { node: process.version, cpu: cpus()[0]?.model, cpus: cpus().length, pinned: haveTaskset, stepSeconds, fanout: [], latency: [], memory: [] };
  const textBytes = 100;
  const servers = [
    { name: "caas socket (embedded platform)", kind: "ours", start: () => startEmbeddedPlatform("bench-rt", { nodeArgs: GC_ON_SIGNAL }) },
    { name: "bare ws, one write per message", kind: "direct", start: () => startBare("direct") },
    { name: "bare ws, coalesced per tick", kind: "coalesced", start: () => startBare("coalesced") },
    { name: "Centrifugo v6.9.1 (memory engine, history + recovery)", kind: "centrifugo", start: () => startCentrifugo() },
  ];
  const smoke = process.env.CAAS_BENCH_SMOKE === "1";
  const shapes = smoke
    ? [
        { label: "1 conversation x 20 members", rooms: 1, size: 20, sendersPerRoom: 2, startRate: 5, maxRate: 10 },
        { label: "3 conversations x 5 members", rooms: 3, size: 5, sendersPerRoom: 1, startRate: 5, maxRate: 10 },
      ]
    : [
        { label: "1 conversation x 1000 members", rooms: 1, size: 1000, sendersPerRoom: 50, startRate: 10, maxRate: 5000 },
        { label: "100 conversations x 100 members", rooms: 100, size: 100, sendersPerRoom: 2, startRate: 50, maxRate: 50000 },
      ];
  let runId = 0;
  // Centrifugo runs when asked for by name, or by default when its binary is installed.
  const onlyServers = process.env.CAAS_BENCH_SERVERS?.split(",") ?? ["ours", "direct", "coalesced", ...(centrifugoBinary() ? ["centrifugo"] : [])];
  if (!onlyServers.includes("centrifugo")) process.stderr.write("Centrifugo not installed (tests/ci/centrifugo.sh): the real peer is left out of this run\n");
  for (const server of servers.filter((sv) => onlyServers.includes(sv.kind))) {
    let s = await server.start();
    let url = server.kind === "ours" ? s.endpoints.socket.replace(/^http/, "ws") : s.url;
    try {
      const membersOf = async (rooms, size, prefix) => (server.kind === "ours" ? ourRooms(s, rooms, size, `${prefix}${runId}-`) : bareRooms(rooms, size));
      const withTokens = async (members) => {
        if (server.kind === "ours") return freshTokens(members);
        if (server.kind === "centrifugo") for (const [i, m] of members.entries()) m.token = await centrifugoToken(`u${i}`);
        return members;
      };
      if (only.has("fanout")) {
        for (const shape of shapes.filter((sh) => !process.env.CAAS_BENCH_SHAPE || sh.label.startsWith(process.env.CAAS_BENCH_SHAPE))) {
          const members = await withTokens(await membersOf(shape.rooms, shape.size, "f"));
          const r = await ask({
            kind: server.kind,
            serverPid: s.pid,
            url,
            members,
            roomSize: shape.size,
            textBytes,
            sendersPerRoom: shape.sendersPerRoom,
            startRate: shape.startRate,
            maxRate: shape.maxRate,
            stepSeconds,
            runId: runId++,
          });
          const best = r.steps.reduce((a, b) => (b.deliveredPerSec > a.deliveredPerSec ? b : a));
          results.fanout.push({
            server: server.name,
            shape: shape.label,
            deliveriesPerSec: best.deliveredPerSec,
            atOfferedMsgsPerSec: best.rate,
            cpuUsPerDelivery: best.serverCpuUsPerDelivery,
            closed: r.steps.at(-1).closed,
            refused: r.refused,
            steps: r.steps.map(({ rate, deliveredPerSec, expectedPerSec, closed, serverCpuUsPerDelivery }) => ({ rate, deliveredPerSec, expectedPerSec, closed, serverCpuUsPerDelivery })),
          });
          process.stderr.write(`${server.name} / ${shape.label}: ${best.deliveredPerSec} deliveries/s (offered ${best.rate} msgs/s), server CPU ${best.serverCpuUsPerDelivery} us per delivery\n`);
        }
      }
      if (only.has("latency")) {
        const rooms = smoke ? 4 : 200;
        const size = 3;
        const members = await withTokens(await membersOf(rooms, size, "l"));
        const base = { kind: server.kind, serverPid: s.pid, url, members, roomSize: size, textBytes, sendersPerRoom: size, stepSeconds, runId: runId++ };
        const ramp = await ask({ ...base, startRate: 100, maxRate: smoke ? 200 : 50_000 });
        const best = ramp.steps.reduce((a, b) => (b.deliveredPerSec > a.deliveredPerSec ? b : a));
        // Half of the highest sustained message rate in this shape.
        const maxMsgs = best.deliveredPerSec / size;
        // CAAS_BENCH_LATENCY_RATE fixes the rate instead, so runs on a busy machine compare at the same load.
        const half = Number(process.env.CAAS_BENCH_LATENCY_RATE) || Math.max(1, Math.round(maxMsgs / 2));
        // The ramp ends overloaded: wait until the server has worked off its backlog, or the first
        // samples at half rate measure the ramp's queue (p99 swung between 23 and 197 ms before).
        const settledMs = await settle(s.pid);
        const measured = await ask({ ...base, members, fixedRate: half, runId: runId++ });
        const st = measured.steps[0];
        results.latency.push({
          server: server.name,
          shape: `${rooms} conversations x ${size} members`,
          maxDeliveriesPerSec: best.deliveredPerSec,
          offeredMsgsPerSec: half,
          settledMs,
          deliveredPerSec: st.deliveredPerSec,
          p50Ms: st.latency.p50,
          p99Ms: st.latency.p99,
          cpuMsPerSend: st.serverCpuMsPerSend,
          cpuUsPerDelivery: st.serverCpuUsPerDelivery,
          samples: st.latency.n,
          closed: st.closed,
          refused: measured.refused,
        });
        process.stderr.write(
          `${server.name} / latency at ${half} msgs/s (after ${settledMs} ms settling): p50 ${st.latency.p50} ms, p99 ${st.latency.p99} ms, server CPU ${st.serverCpuMsPerSend} ms per send\n`,
        );
      }
      if (only.has("memory")) {
        if (only.has("fanout") || only.has("latency")) {
          // A fresh server: what the load phases left on the heap must not blur the measurement.
          await s.stop();
          s = await server.start();
          url = server.kind === "ours" ? s.endpoints.socket.replace(/^http/, "ws") : s.url;
        }
        process.stderr.write(`${server.name}: opening ${idleCount} idle connections\n`);
        const members =
          server.kind === "ours"
            ? await freshTokens((await manyUsers(s, idleCount, `i${runId++}-`)).map((u) => ({ ...u, room: "" })))
            : server.kind === "centrifugo"
              ? await withTokens(Array.from({ length: idleCount }, () => ({ room: "" })))
              : Array.from({ length: idleCount }, () => ({ room: "idle" }));
        await sleep(2000);
        const before = rssKiB(s.pid);
        // Centrifugo is a Go process: RSS only, no JS heap.
        const heapBefore = server.kind === "centrifugo" ? { kib: NaN, newSpaceKiB: NaN } : await liveHeap(s.pid);
        load.stdin.write(`${JSON.stringify({ kind: server.kind, url, members, idle: true })}\n`);
        const opened = (await replies.next()).value;
        await sleep(3000);
        const after = rssKiB(s.pid);
        // RSS as the operator sees it right after the connections arrived (authentication garbage
        // and heap growth included), and the live JS heap after a full GC in the server: what the
        // connections' objects really hold (socket buffers and other native memory not included).
        const heapAfter = server.kind === "centrifugo" ? { kib: NaN, newSpaceKiB: NaN } : await liveHeap(s.pid);
        load.stdin.write("done\n");
        await replies.next();
        const perConnection = (a, b) => Number(((a - b) / opened.open).toFixed(2));
        results.memory.push({
          server: server.name,
          connections: opened.open,
          closedEarly: opened.closed,
          rssBeforeMiB: Math.round(before / 1024),
          rssAfterMiB: Math.round(after / 1024),
          kibPerConnection: perConnection(after, before),
          liveHeapKibPerConnection: perConnection(heapAfter.kib, heapBefore.kib),
          // The young generation's size before and when RSS was read: its semi-spaces grow under the
          // burst of connections up to a ceiling per process (--max-semi-space-size), which RSS counts.
          newSpaceBeforeMiB: Number((heapBefore.newSpaceKiB / 1024).toFixed(1)),
          newSpaceMiB: Number((heapAfter.newSpaceKiB / 1024).toFixed(1)),
          kibPerConnectionWithoutYoungGrowth: Number((perConnection(after, before) - (heapAfter.newSpaceKiB - heapBefore.newSpaceKiB) / opened.open).toFixed(2)),
        });
        process.stderr.write(
          `${server.name}: ${perConnection(after, before)} KiB RSS per idle connection, ${perConnection(heapAfter.kib, heapBefore.kib)} KiB of live JS heap, young generation ${(heapBefore.newSpaceKiB / 1024).toFixed(1)} -> ${(heapAfter.newSpaceKiB / 1024).toFixed(1)} MiB\n`,
        );
      }
    } finally {
      await s.stop();
    }
  }
  load.stdin.end();
  // Ratios of ours to each baseline.
  const ratio = (rows, key, shape) => {
    const ours = rows.find((r) => r.server.startsWith("caas") && r.shape === shape)?.[key];
    return Object.fromEntries(rows.filter((r) => !r.server.startsWith("caas") && r.shape === shape).map((r) => [r.server, Number((ours / r[key]).toFixed(2))]));
  };
  results.ratios = Object.fromEntries(shapes.filter(() => only.has("fanout")).map((sh) => [sh.label, ratio(results.fanout, "deliveriesPerSec", sh.label)]));
  console.table(results.fanout.map(({ steps, ...r }) => r));
  console.table(results.latency);
  console.table(results.memory);
  console.log(JSON.stringify(results));
}

// ---------------------------------------------------------------------------------------------

await coordinate();
process.exit(0);
