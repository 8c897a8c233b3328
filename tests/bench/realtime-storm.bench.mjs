// Benchmark: a reconnect storm. N clients (default 10 000) are connected to /ws of the embedded
// platform, authenticated and resumed, in conversations of 100 members; a publisher sends
// messages through chat at a steady rate the whole time. Then every connection drops in the same
// tick and dials again at once (the thundering herd of a socket restart or a cut network), each
// resuming from its last ResumeDone/Checkpoint cursor with its position, as @caas/client does.
//
// Measured: the time from the cut until all are authenticated, resumed (ResumeDone) and caught
// up (hold every message acknowledged before the cut), refusals and retries, the platform's peak
// RSS and CPU during the storm and its live heap after a full GC before and after (does an
// authentication burst leave old space behind), and correctness: after the publisher stops,
// every client must hold every message acknowledged before, during and after the storm
// (missing must be 0; the bench exits 1 otherwise).
//
// Method. The platform runs pinned to core 0; the clients run in P processes pinned to core 1,
// each bound to its own loopback source address (127.0.0.2, 127.0.0.3, ...), so no address runs
// out of ephemeral ports and no process out of file descriptors (`ulimit -n` in the shell applies
// to every process; `ulimit -Hn` is its ceiling).
//
// CAAS_BENCH_PROFILE_DIR=<dir> writes a CPU profile of the platform over the storm (from the cut
// until all resumed) into <dir> (tests/bench/profile-summary.mjs summarises it).
//
// Usage: npm run build && node tests/bench/realtime-storm.bench.mjs [clients=10000] [processes=2] [msgs-per-sec=10]
//        (the smoke: node tests/bench/realtime-storm.bench.mjs 40 2 5)
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { cpuMs, haveTaskset, pinned, repoRoot, sleep, startEmbeddedPlatform } from "./embedded-platform.mjs";
import { GC_ON_SIGNAL, liveHeap, ourRooms, rssKiB } from "./realtime-setup.mjs";

const LOAD_SCRIPT = fileURLToPath(new URL("./realtime-storm-load.mjs", import.meta.url));
const PROFILE_ON_SIGNAL = fileURLToPath(new URL("./cpu-prof-on-signal.cjs", import.meta.url));
const clientCount = Number(process.argv[2] ?? 10_000);
const processes = Number(process.argv[3] ?? 2);
const rate = Number(process.argv[4] ?? 10);
const ROOM_SIZE = Math.min(100, clientCount);

/**
 * The kernel's count of connections dropped because a listen queue was full (TcpExt
 * ListenOverflows, for the whole network namespace: other work on the machine counts too).
 */
function listenOverflows() {
  try {
    const lines = readFileSync("/proc/net/netstat", "utf8").split("\n");
    const i = lines.findIndex((l) => l.startsWith("TcpExt:"));
    const names = lines[i].split(" ");
    return Number(lines[i + 1].split(" ")[names.indexOf("ListenOverflows")]);
  } catch {
    return NaN;
  }
}

/** A load process: `ask(cmd)` sends one command and resolves with its one-line answer. */
function loadProcess(k) {
  const child = pinned(1, ["--max-old-space-size=4096", LOAD_SCRIPT, "--local", `127.0.0.${k + 2}`], { cwd: repoRoot, stdio: ["pipe", "pipe", "inherit"] });
  const lines = (async function* () {
    let buf = "";
    for await (const chunk of child.stdout) {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        yield JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    }
  })();
  return {
    ask: async (cmd) => {
      child.stdin.write(`${JSON.stringify(cmd)}\n`);
      return (await lines.next()).value;
    },
    end: () => child.stdin.end(),
  };
}

/** Sends `rate` messages/s round-robin over the conversations through chat, as each one's first member; records every acknowledged seq. */
function publisher(platform, rooms) {
  const acked = Object.fromEntries(rooms.map((r) => [r.room, []]));
  const chat = createClient(ChatService, createGrpcTransport({ baseUrl: platform.endpoints.chat }));
  let running = true;
  let sent = 0;
  let refused = 0;
  const inFlight = new Set();
  const one = async (i) => {
    const r = rooms[i % rooms.length];
    for (let attempt = 0; running || attempt === 0; attempt++) {
      try {
        const ack = await chat.sendMessage({ conversationId: r.room, clientMessageId: `storm-${i}`, text: `m${i}` }, { headers: { authorization: `Bearer ${r.token}` } });
        acked[r.room].push(Number(ack.seq));
        return;
      } catch (err) {
        const e = ConnectError.from(err);
        // Access tokens live 5 minutes: the publisher takes a new one like any client would.
        if (e.code === Code.Unauthenticated) {
          r.token = await r.issue();
          continue;
        }
        if (![Code.Unavailable, Code.ResourceExhausted, Code.DeadlineExceeded].includes(e.code)) throw e;
        refused++;
        await sleep(200);
      }
    }
  };
  const loop = (async () => {
    const t0 = performance.now();
    while (running) {
      while (sent < ((performance.now() - t0) / 1000) * rate) {
        const p = one(sent++).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      await sleep(20);
    }
  })();
  return {
    acked,
    snapshot: () => Object.fromEntries(Object.entries(acked).map(([k, v]) => [k, [...v]])),
    stats: () => ({ sent, acked: Object.values(acked).reduce((n, v) => n + v.length, 0), refused }),
    stop: async () => {
      running = false;
      await loop;
      await Promise.all(inFlight);
    },
  };
}

async function main() {
  process.stderr.write(haveTaskset ? "platform pinned to core 0, clients pinned to core 1\n" : "taskset unavailable: processes not pinned\n");
  // CAAS_BENCH_PROFILE_DIR: a CPU profile of the platform over the storm alone (cpu-prof-on-signal.cjs).
  const profileDir = process.env.CAAS_BENCH_PROFILE_DIR;
  if (profileDir) process.env.CAAS_BENCH_ENV_CAAS_BENCH_PROFILE_DIR = profileDir;
  const s = await startEmbeddedPlatform("bench-storm", { nodeArgs: [...GC_ON_SIGNAL, ...(profileDir ? ["--require", PROFILE_ON_SIGNAL] : [])] });
  const loads = Array.from({ length: processes }, (_, k) => loadProcess(k));
  try {
    const members = await ourRooms(s, Math.ceil(clientCount / ROOM_SIZE), ROOM_SIZE, `s${Date.now() % 100000}-`);
    // Access and refresh tokens: a client whose access token expires during the storm refreshes it
    // (AuthService.RefreshToken) and reconnects, as @caas/client does.
    for (let i = 0; i < members.length; i += 50) {
      await Promise.all(
        members.slice(i, i + 50).map(async (m) => {
          const t = await m.issueTokens();
          m.token = t.accessToken;
          m.refresh = t.refreshToken;
        }),
      );
    }
    // The publisher sends as each conversation's first member, with a token of its own.
    const rooms = [...new Map(members.map((m) => [m.room, { ...m }])).values()];
    const url = s.endpoints.socket.replace(/^http/, "ws");
    const slices = loads.map((_, k) => members.filter((_, i) => i % processes === k).map(({ token, refresh, room }) => ({ token, refresh, room })));
    let t = performance.now();
    const opened = await Promise.all(loads.map((l, k) => l.ask({ op: "connect", url, authUrl: s.endpoints.auth, members: slices[k] })));
    const connectS = (performance.now() - t) / 1000;
    process.stderr.write(`${clientCount} clients connected and resumed in ${connectS.toFixed(1)} s: ${JSON.stringify(opened)}\n`);
    const pub = publisher(s, rooms);
    await sleep(5_000);
    const heapBefore = await liveHeap(s.pid);
    const rssBefore = rssKiB(s.pid);
    // Samples the platform's RSS and CPU through the storm.
    let peakRss = rssBefore;
    let sampling = true;
    const cpu0 = cpuMs(s.pid);
    const sampler = (async () => {
      while (sampling) {
        peakRss = Math.max(peakRss, rssKiB(s.pid));
        await sleep(200);
      }
    })();
    const uptimeAtCut = (await import("node:os")).loadavg().map((x) => x.toFixed(2));
    const overflows0 = listenOverflows();
    if (profileDir) process.kill(s.pid, "SIGTTIN");
    t = performance.now();
    const storms = await Promise.all(loads.map((l) => l.ask({ op: "cut", need: pub.snapshot(), timeoutMs: 300_000 })));
    const stormS = (performance.now() - t) / 1000;
    const cpuCoreShare = (cpuMs(s.pid) - cpu0) / (stormS * 1000);
    if (profileDir) process.kill(s.pid, "SIGTTIN");
    const overflows = listenOverflows() - overflows0;
    sampling = false;
    await sampler;
    process.stderr.write(`storm over in ${stormS.toFixed(1)} s: ${JSON.stringify(storms)}\n`);
    await sleep(3_000);
    await pub.stop();
    const published = pub.stats();
    const checks = await Promise.all(loads.map((l) => l.ask({ op: "check", acked: pub.snapshot(), waitMs: 60_000 })));
    await sleep(5_000);
    const heapAfter = await liveHeap(s.pid);
    const sum = (rows, k) => rows.reduce((n, r) => n + r[k], 0);
    const worst = (k, q) => Math.max(...storms.map((r) => r[k][q]));
    const merge = (rows, k) => rows.reduce((o, r) => (Object.entries(r[k]).forEach(([key, n]) => (o[key] = (o[key] ?? 0) + n)), o), {});
    const result = {
      clients: sum(opened, "open"),
      processes,
      loadAverageAtCut: uptimeAtCut,
      connectSeconds: Number(connectS.toFixed(1)),
      stormSeconds: Number(stormS.toFixed(1)),
      resumed: sum(storms, "resumed"),
      caughtUp: sum(storms, "caughtUp"),
      allAuthenticatedMs: worst("authMs", "p99"),
      resumedP50Ms: worst("resumedMs", "p50"),
      resumedP99Ms: worst("resumedMs", "p99"),
      caughtUpP99Ms: worst("caughtMs", "p99"),
      retries: sum(storms, "retries"),
      tokenRefreshes: sum(storms, "refreshes"),
      listenQueueOverflows: overflows,
      errors: merge(storms, "errors"),
      closings: merge(storms, "closings"),
      published,
      missing: sum(checks, "missing"),
      clientsMissing: sum(checks, "clientsMissing"),
      duplicates: sum(checks, "duplicates"),
      openAtEnd: sum(checks, "open"),
      rssBeforeMiB: Math.round(rssBefore / 1024),
      peakRssMiB: Math.round(peakRss / 1024),
      rssAfterMiB: Math.round(rssKiB(s.pid) / 1024),
      platformCpuCoresDuringStorm: Number(cpuCoreShare.toFixed(2)),
      liveHeapBeforeMiB: Number((heapBefore.kib / 1024).toFixed(1)),
      liveHeapAfterMiB: Number((heapAfter.kib / 1024).toFixed(1)),
    };
    console.log(JSON.stringify(result));
    if (result.missing > 0 || result.caughtUp < result.clients) process.exitCode = 1;
  } finally {
    for (const l of loads) l.end();
    await s.stop();
  }
}

await main();
process.exit(process.exitCode ?? 0);
