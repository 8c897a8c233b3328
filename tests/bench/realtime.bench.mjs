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
//       service does), and the ratios of ours to each.
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
//        (CAAS_BENCH_ONLY=fanout,latency,memory to run a subset)
//        node tests/bench/realtime.bench.mjs --hub [connections=1000] [events/s=200] [seconds=8]
//        (the socket service's fan-out alone: see hubBench)
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import http from "node:http";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import WebSocket, { WebSocketServer } from "ws";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { ClientFrameSchema, ServerFrameSchema } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { RetryInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { haveTaskset, pinned, quantiles, repoRoot, sleep, startEmbeddedPlatform } from "./embedded-platform.mjs";

const self = fileURLToPath(import.meta.url);
/** Node flags for every server under test: SIGUSR2 then runs a full GC (gc-on-signal.cjs). */
const GC_ON_SIGNAL = ["--expose-gc", "--require", join(repoRoot, "tests/bench/gc-on-signal.cjs")];

/** Where servers write their memory use after a full GC (gc-on-signal.cjs). */
const MEMORY_FILE = process.env.CAAS_BENCH_MEMORY_FILE ?? join(mkdtempSync(join(tmpdir(), "caas-bench-mem-")), "memory.jsonl");
process.env.CAAS_BENCH_MEMORY_FILE = MEMORY_FILE; // bare servers inherit the environment
process.env.CAAS_BENCH_ENV_CAAS_BENCH_MEMORY_FILE = MEMORY_FILE; // the platform gets CAAS_BENCH_ENV_*

/** The JS heap `pid` holds after a full garbage collection, in KiB (SIGUSR2, see GC_ON_SIGNAL). */
async function liveHeapKiB(pid) {
  const lines = () => (existsSync(MEMORY_FILE) ? readFileSync(MEMORY_FILE, "utf8").trim().split("\n").filter(Boolean) : []);
  const n = lines().length;
  process.kill(pid, "SIGUSR2");
  for (let i = 0; i < 100 && lines().length === n; i++) await sleep(50);
  const m = JSON.parse(lines().at(-1));
  return (m.heapUsed + m.external) / 1024;
}

const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN);
/**
 * CPU time (user + system, ms) the process has used so far, from /proc/<pid>/stat (utime and
 * stime are fields 14 and 15, in clock ticks of 10 ms): what the server spent, whatever else
 * the machine was running; NaN without /proc.
 */
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

function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

// The first byte of a ServerFrame pushed with reply_to 0 whose case is `event` (field 13,
// length-delimited): (13 << 3) | 2.
const EVENT_TAG = 0x6a;
// Latency stamp in a message's text: "@@<performance.now() of the load process>;<sender index>;".
const STAMP = Buffer.from("@@");
function stampOf(buf) {
  const at = buf.indexOf(STAMP);
  if (at < 0) return undefined;
  const end = buf.indexOf(0x3b, at); // ';'
  const end2 = buf.indexOf(0x3b, end + 1);
  return { t: Number(buf.toString("latin1", at + 2, end)), sender: Number(buf.toString("latin1", end + 1, end2)) };
}

// ---------------------------------------------------------------------------------------------
// Bare ws broadcast servers (the baselines): `--bare direct|coalesced`. A client message is
// [op, ...rest]: op 1 joins the room named by rest, op 2 broadcasts rest to every connection in
// the sender's room (the sender included, like a conversation event).

function bareServer(mode) {
  const rooms = new Map();
  const server = http.createServer((_, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  server.on("upgrade", (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = { ws, socket, pending: [], scheduled: false, room: undefined };
      ws.on("message", (data) => {
        const op = data[0];
        if (op === 1) {
          conn.room = data.toString("utf8", 1);
          let members = rooms.get(conn.room);
          if (!members) rooms.set(conn.room, (members = []));
          members.push(conn);
          ws.send(Buffer.from([1]));
        } else if (op === 2) {
          const payload = data.subarray(1);
          for (const m of rooms.get(conn.room) ?? []) {
            if (mode === "direct") m.ws.send(payload);
            else {
              m.pending.push(payload);
              if (!m.scheduled) {
                m.scheduled = true;
                setImmediate(() => {
                  m.scheduled = false;
                  const batch = m.pending;
                  m.pending = [];
                  m.socket.cork();
                  for (const p of batch) m.ws.send(p);
                  m.socket.uncork();
                });
              }
            }
          }
        }
      });
      ws.on("close", () => {
        const members = rooms.get(conn.room);
        if (members) members.splice(members.indexOf(conn), 1);
      });
    }),
  );
  server.listen(0, "127.0.0.1", () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
}

// ---------------------------------------------------------------------------------------------
// The load process: `--load` reads one plan per line on stdin and answers one JSON line each.

/** Opens connections to the server under test; returns them with their counters. */
async function openConnections(plan) {
  const conns = [];
  const batch = 100;
  for (let i = 0; i < plan.members.length; i += batch) {
    conns.push(
      ...(await Promise.all(
        plan.members.slice(i, i + batch).map(async (m) => {
          const ws = new WebSocket(plan.kind === "ours" ? `${plan.url}/ws` : plan.url, { perMessageDeflate: false });
          const c = { ws, member: m, events: 0, closed: undefined, acks: 0, refused: 0, nextId: 2n, latencies: undefined };
          await once(ws, "open");
          const ready = new Promise((resolve, reject) => {
            ws.once("message", (data) => {
              if (plan.kind !== "ours") return resolve();
              const f = fromBinary(ServerFrameSchema, data);
              if (f.frame.case === "authOk") resolve();
              else reject(new Error(`auth failed: ${f.frame.case} ${JSON.stringify(f.frame.value?.message ?? "")}`));
            });
          });
          if (plan.kind === "ours") ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, { id: 1n, frame: { case: "auth", value: { accessToken: m.token } } })));
          else ws.send(Buffer.concat([Buffer.from([1]), Buffer.from(m.room)]));
          await ready;
          ws.on("message", (data) => {
            if (data[0] === EVENT_TAG || plan.kind !== "ours") {
              c.events++;
              if (c.latencies) {
                const stamp = stampOf(data);
                // Only what other connections sent: a sender's own copy is not a delivery to measure.
                if (stamp !== undefined && stamp.sender !== c.index) c.latencies.push(performance.now() - stamp.t);
              }
            } else if (data[0] === 0x08) {
              // A reply (reply_to set): an ack or an error.
              const f = fromBinary(ServerFrameSchema, data);
              if (f.frame.case === "sendAck") c.acks++;
              else if (f.frame.case === "error") c.refused++;
            }
          });
          ws.on("close", (code, reason) => (c.closed ??= `${code} ${reason}`));
          ws.on("error", () => undefined);
          return c;
        }),
      )),
    );
  }
  return conns;
}

function sendFrom(plan, c, seq, text) {
  if (plan.kind === "ours") {
    const id = c.nextId++;
    c.ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, { id, frame: { case: "send", value: { conversationId: c.member.room, clientMessageId: `b${seq}`, text } } })));
  } else {
    c.ws.send(Buffer.concat([Buffer.from([2]), Buffer.from(text)]));
  }
}

/** Offers `rate` messages/s for `seconds`, spread round-robin over `senders`; counts deliveries. */
async function step(plan, conns, senders, rate, seconds, withLatency) {
  for (const c of conns) {
    c.events = 0;
    c.latencies = withLatency ? [] : undefined;
  }
  const text = "x".repeat(plan.textBytes);
  const cpu0 = cpuMs(plan.serverPid);
  let sent = 0;
  let owed = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let last = t0;
  while (performance.now() < end) {
    await sleep(5);
    const now = performance.now();
    owed += ((now - last) / 1000) * rate;
    last = now;
    while (owed >= 1) {
      owed--;
      const s = senders[sent % senders.length];
      sendFrom(plan, s, `${plan.runId}-${rate}-${sent}`, `@@${performance.now()};${s.index};${text}`);
      sent++;
    }
  }
  const elapsed = (performance.now() - t0) / 1000;
  const delivered = conns.reduce((n, c) => n + c.events, 0);
  // Let the tail drain before the next step (not counted in this step's rate).
  const expected = sent * plan.roomSize;
  for (let i = 0; i < 100 && conns.reduce((n, c) => n + c.events, 0) < expected; i++) await sleep(50);
  // Server CPU per delivery over the step and its drain (every delivery of the step's sends):
  // the server's cost, which other load on the machine disturbs far less than the rate.
  const drained = conns.reduce((n, c) => n + c.events, 0);
  const cpu = cpuMs(plan.serverPid) - cpu0;
  const serverCpuUsPerDelivery = drained > 0 ? Number(((cpu * 1000) / drained).toFixed(2)) : NaN;
  const latencies = withLatency ? conns.flatMap((c) => c.latencies ?? []) : [];
  const closed = conns.filter((c) => c.closed).length;
  return {
    rate,
    sent,
    delivered,
    deliveredPerSec: Math.round(delivered / elapsed),
    expectedPerSec: Math.round((sent * plan.roomSize) / elapsed),
    closed,
    serverCpuUsPerDelivery,
    latency: quantiles(latencies),
  };
}

async function runPlan(plan) {
  const conns = await openConnections(plan);
  conns.forEach((c, i) => (c.index = i));
  if (process.env.CAAS_BENCH_DEBUG) process.stderr.write(`  load: ${conns.length} connections open\n`);
  if (plan.idle) {
    process.stdout.write(`${JSON.stringify({ open: conns.length, closed: conns.filter((c) => c.closed).length })}\n`);
    // Stay connected until the coordinator has measured the server ("done"), then close.
    await stdinLines.next();
    for (const c of conns) c.ws.terminate();
    return { idle: true };
  }
  // Senders: the first `sendersPerRoom` members of every room.
  const byRoom = new Map();
  for (const c of conns) {
    const list = byRoom.get(c.member.room) ?? [];
    list.push(c);
    byRoom.set(c.member.room, list);
  }
  const senders = [];
  for (let i = 0; i < plan.sendersPerRoom; i++) for (const list of byRoom.values()) if (list[i]) senders.push(list[i]);
  const steps = [];
  if (plan.fixedRate) {
    steps.push(await step(plan, conns, senders, plan.fixedRate, plan.stepSeconds * 2, true));
  } else {
    for (let rate = plan.startRate; rate <= plan.maxRate; rate *= 2) {
      const s = await step(plan, conns, senders, rate, plan.stepSeconds, false);
      steps.push(s);
      if (s.closed > 0 || s.deliveredPerSec < 0.8 * s.expectedPerSec) break;
    }
  }
  const acks = conns.reduce((n, c) => n + c.acks, 0);
  const refused = conns.reduce((n, c) => n + c.refused, 0);
  for (const c of conns) c.ws.terminate();
  return { steps, acks, refused };
}

/** The load process's stdin, one line at a time (plans, and "done" after an idle measurement). */
const stdinLines = (async function* () {
  let buffered = "";
  process.stdin.setEncoding("utf8");
  for await (const chunk of process.stdin) {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim()) yield line;
    }
  }
})();

async function loadMain() {
  for await (const line of stdinLines) {
    const result = await runPlan(JSON.parse(line));
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// The coordinator.

async function startBare(mode) {
  const child = pinned(0, [...GC_ON_SIGNAL, self, "--bare", mode], { cwd: repoRoot, stdio: ["pipe", "pipe", "inherit"] });
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
  const load = pinned(1, ["--max-old-space-size=4096", self, "--load"], { cwd: repoRoot, stdio: ["pipe", "pipe", "inherit"] });
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
  ];
  const shapes = [
    { label: "1 conversation x 1000 members", rooms: 1, size: 1000, sendersPerRoom: 50, startRate: 10, maxRate: 5000 },
    { label: "100 conversations x 100 members", rooms: 100, size: 100, sendersPerRoom: 2, startRate: 50, maxRate: 50000 },
  ];
  let runId = 0;
  const onlyServers = process.env.CAAS_BENCH_SERVERS?.split(",");
  for (const server of servers.filter((sv) => !onlyServers || onlyServers.includes(sv.kind))) {
    let s = await server.start();
    let url = server.kind === "ours" ? s.endpoints.socket.replace(/^http/, "ws") : s.url;
    try {
      const membersOf = async (rooms, size, prefix) => (server.kind === "ours" ? ourRooms(s, rooms, size, `${prefix}${runId}-`) : bareRooms(rooms, size));
      const withTokens = async (members) => (server.kind === "ours" ? freshTokens(members) : members);
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
        const rooms = 200;
        const size = 3;
        const members = await withTokens(await membersOf(rooms, size, "l"));
        const base = { kind: server.kind, serverPid: s.pid, url, members, roomSize: size, textBytes, sendersPerRoom: size, stepSeconds, runId: runId++ };
        const ramp = await ask({ ...base, startRate: 100, maxRate: 50_000 });
        const best = ramp.steps.reduce((a, b) => (b.deliveredPerSec > a.deliveredPerSec ? b : a));
        // Half of the highest sustained message rate in this shape.
        const maxMsgs = best.deliveredPerSec / size;
        const half = Math.max(1, Math.round(maxMsgs / 2));
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
          samples: st.latency.n,
          closed: st.closed,
          refused: measured.refused,
        });
        process.stderr.write(`${server.name} / latency at ${half} msgs/s (after ${settledMs} ms settling): p50 ${st.latency.p50} ms, p99 ${st.latency.p99} ms\n`);
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
          server.kind === "ours" ? await freshTokens((await manyUsers(s, idleCount, `i${runId++}-`)).map((u) => ({ ...u, room: "" }))) : Array.from({ length: idleCount }, () => ({ room: "idle" }));
        await sleep(2000);
        const before = rssKiB(s.pid);
        const heapBefore = await liveHeapKiB(s.pid);
        load.stdin.write(`${JSON.stringify({ kind: server.kind, url, members, idle: true })}\n`);
        const opened = (await replies.next()).value;
        await sleep(3000);
        const after = rssKiB(s.pid);
        // RSS as the operator sees it right after the connections arrived (authentication garbage
        // and heap growth included), and the live JS heap after a full GC in the server: what the
        // connections' objects really hold (socket buffers and other native memory not included).
        const heapAfter = await liveHeapKiB(s.pid);
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
          liveHeapKibPerConnection: perConnection(heapAfter, heapBefore),
        });
        process.stderr.write(`${server.name}: ${perConnection(after, before)} KiB RSS per idle connection, ${perConnection(heapAfter, heapBefore)} KiB of live JS heap\n`);
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
// The socket service's fan-out alone (`--hub [connections=1000] [events/s=200] [seconds=8]`): the
// compiled hub, sessions and WebSocket transport of this tree in this process (no chat, no bus,
// a verifier that accepts any token), every connection a member of one conversation, held by a
// `--hub-client` child; events are dispatched into the hub one per tick at a fixed rate. Prints
// the events dispatched, the deliveries received and the server's CPU time per delivery
// (process.cpuUsage), which other load on the machine disturbs far less than a rate does.

async function hubBench() {
  const [connections, rate, seconds] = [Number(process.argv[3] ?? 1000), Number(process.argv[4] ?? 200), Number(process.argv[5] ?? 8)];
  const dist = (p) => import(new URL(`../../${p}`, import.meta.url).href);
  const { createLogger, systemClock } = await dist("services/shared/dist/index.js");
  const { EventSchema } = await import("@caas/gen/caas/chat/v1/event_pb.js");
  const { Hub } = await dist("services/socket/dist/hub.js");
  const { SessionRegistry } = await dist("services/socket/dist/sessions.js");
  const { createWebSocketEndpoint } = await dist("services/socket/dist/transports/websocket.js");
  const verifier = {
    async verify(token) {
      const now = Math.floor(Date.now() / 1000);
      return {
        kid: "k",
        claims: { iss: "caas-auth", aud: "caas-api", sub: token, tenant: "t1", sid: `s-${token}`, device: "d", scopes: [], roles: [], jti: "j", iat: now, nbf: now, exp: now + 3600 },
      };
    },
    verifyServiceToken: async () => ({ service: "bench" }),
  };
  const chat = {
    listConversations: async () => ({ conversations: [{ conversation: { id: "c1", type: ConversationType.GROUP, memberCount: connections, lastSeq: 0n }, membership: {} }], nextPageToken: "" }),
  };
  const logger = createLogger({ service: "bench", instance: "bench", level: "silent" });
  const hub = new Hub();
  const limits = { authTimeoutMs: 10_000, heartbeatMs: 30_000, maxQueuedFrames: 1_024, maxFrameBytes: 65_536, retryAfterMs: 1_000 };
  const registry = new SessionRegistry({ verifier, chat, hub, clock: systemClock, logger, limits });
  const endpoint = createWebSocketEndpoint({
    maxFrameBytes: 65_536,
    maxPayload: 1 << 20,
    maxBufferedBytes: 4 << 20,
    logger,
    newSession: (sink) => registry.open(sink, { clientHeartbeats: true, serverPongs: false }),
  });
  const server = http.createServer();
  server.on("upgrade", (req, socket, head) => endpoint.onUpgrade(req, socket, head));
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const child = pinned(1, [self, "--hub-client", String(server.address().port), String(connections)], { cwd: repoRoot, stdio: ["pipe", "pipe", "inherit"] });
  const lines = (async function* () {
    let buf = "";
    for await (const chunk of child.stdout) {
      buf += chunk;
      for (let nl; (nl = buf.indexOf("\n")) >= 0; buf = buf.slice(nl + 1)) yield buf.slice(0, nl);
    }
  })();
  await lines.next();
  const received = async () => {
    child.stdin.write("?\n");
    return Number((await lines.next()).value);
  };
  const text = "x".repeat(140);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let seq = 0n;
  while (performance.now() - t0 < seconds * 1000) {
    if (Number(seq) + 1 > ((performance.now() - t0) / 1000) * rate) {
      await sleep(1);
      continue;
    }
    seq++;
    hub.dispatch(
      "t1",
      create(EventSchema, { conversationId: "c1", seq, eventId: `e${seq}`, payload: { case: "messageCreated", value: { message: { id: `m${seq}`, conversationId: "c1", senderId: "u0", text } } } }),
    );
    await new Promise((r) => setImmediate(r));
  }
  const elapsed = (performance.now() - t0) / 1000;
  const expected = Number(seq) * connections;
  let got = 0;
  for (let i = 0; i < 200 && (got = await received()) < expected; i++) await sleep(50);
  const cpu = process.cpuUsage(cpu0);
  const result = {
    connections,
    offeredEventsPerSec: rate,
    events: Number(seq),
    deliveriesPerSec: Math.round(expected / elapsed),
    received: got,
    expected,
    cpuUsPerDelivery: Number(((cpu.user + cpu.system) / got).toFixed(2)),
    load: loadavg()
      .map((l) => l.toFixed(2))
      .join(" "),
  };
  console.log(JSON.stringify(result));
  child.kill();
  process.exit(0);
}

async function hubClient() {
  const [port, n] = [Number(process.argv[3]), Number(process.argv[4])];
  let events = 0;
  for (let i = 0; i < n; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, n - i) }, (_, j) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { perMessageDeflate: false });
        ws.on("open", () => ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, { id: 1n, frame: { case: "auth", value: { accessToken: `u${i + j}` } } }))));
        return new Promise((resolve) => ws.on("message", (d) => (d[0] === EVENT_TAG ? events++ : resolve())));
      }),
    );
  }
  process.stdout.write("ready\n");
  for await (const _ of stdinLines) process.stdout.write(`${events}\n`);
}

if (process.argv[2] === "--bare") bareServer(process.argv[3]);
else if (process.argv[2] === "--hub") await hubBench();
else if (process.argv[2] === "--hub-client") await hubClient();
else if (process.argv[2] === "--load") {
  await loadMain();
  process.exit(0);
} else {
  await coordinate();
  process.exit(0);
}
