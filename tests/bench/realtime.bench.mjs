// Benchmark: realtime fan-out of the socket service against bare `ws` broadcast
// servers measured in the same run.
//
//   (a) fan-out deliveries per second: one 1000-member conversation, and 100 conversations of 100
//       members, every member on its own WebSocket connection at /ws;
//   (b) send-to-receive latency p50/p99 in small conversations (200 conversations of 3 members)
//       at half of the highest load the server sustained in that shape;
//   (c) memory per idle connection at 10 000 authenticated connections (tokens issued all at once
//       just before the readings, connections opened in slices of 1,000, idle clients heartbeating;
//       RSS read 3 s after the last and again after
//       CAAS_BENCH_IDLE_SETTLE_S=30 s idle, then the live heap after a full GC);
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
//        measure latency at that rate rather than half the ramp's; CAAS_BENCH_SERVERS=ours,grpc,direct,
//        coalesced,centrifugo to choose servers, grpc being the platform again with gRPC Subscribe
//        clients through the gateway, left out unless named; CAAS_BENCH_GRPC_TARGET=socket points those clients
//        at the socket service's own port instead, without the gateway's hop; CAAS_BENCH_SMOKE=1 for tiny shapes, the CI smoke)
//        The load process and the bare servers are tests/bench/realtime-load.mjs; the socket
//        service's fan-out alone is tests/bench/realtime-hub.bench.mjs.
import { readdirSync, statSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { centrifugoBinary, centrifugoToken, startCentrifugo } from "./centrifugo.mjs";
import { haveTaskset, pinned, repoRoot, sleep, startEmbeddedPlatform } from "./embedded-platform.mjs";
import { GC_ON_SIGNAL, freshTokens, liveHeap, manyUsers, ourRooms, rssKiB, settle } from "./realtime-setup.mjs";

/** The load process and the bare ws servers (realtime-load.mjs). */
const LOAD_SCRIPT = fileURLToPath(new URL("./realtime-load.mjs", import.meta.url));

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
/**
 * With CAAS_BENCH_HEAP_SNAPSHOTS=<dir> (and the platform started with
 * CAAS_BENCH_NODE_ARGS="--heapsnapshot-signal=SIGUSR1 --diagnostic-dir=<dir>"), writes a heap
 * snapshot of `pid` and waits until it is complete (tests/bench/heap-diff.mjs compares two). Taken
 * only after the memory readings it would disturb.
 */
async function heapSnapshot(pid, label) {
  const dir = process.env.CAAS_BENCH_HEAP_SNAPSHOTS;
  if (!dir) return;
  const count = () => readdirSync(dir).filter((f) => f.endsWith(".heapsnapshot")).length;
  const n = count();
  process.kill(pid, "SIGUSR1");
  while (count() === n) await sleep(500);
  // Written once complete: wait until its size stops changing.
  const newest = () =>
    readdirSync(dir)
      .filter((f) => f.endsWith(".heapsnapshot"))
      .map((f) => join(dir, f))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  for (let size = -1; size !== statSync(newest()).size; await sleep(2000)) size = statSync(newest()).size;
  process.stderr.write(`heap snapshot (${label}): ${newest()}\n`);
}

/** Issues every member an access token, `concurrency` at a time. */
async function issueConcurrently(members, concurrency) {
  let next = 0;
  const worker = async () => {
    while (next < members.length) {
      const m = members[next++];
      m.token = await m.issue();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Idle connections of ours open in slices of this many, each with tokens issued just before. */
const IDLE_SLICE = 1000;
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
    // The same platform, clients on gRPC: a Subscribe server stream each (its own HTTP/2 connection)
    // through the gateway, sending with the unary Send beside it (realtime-grpc-client.mjs).
    {
      name: process.env.CAAS_BENCH_GRPC_TARGET === "socket" ? "caas gRPC Subscribe on the socket service's port (embedded platform)" : "caas gRPC Subscribe via the gateway (embedded platform)",
      kind: "grpc",
      start: () => startEmbeddedPlatform("bench-rt", { nodeArgs: GC_ON_SIGNAL }),
    },
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
    const isOurs = server.kind === "ours" || server.kind === "grpc";
    const grpcUrl = () => (process.env.CAAS_BENCH_GRPC_TARGET === "socket" ? s.endpoints.socket : s.endpoints.gateway);
    const urlOf = () => (server.kind === "ours" ? s.endpoints.socket.replace(/^http/, "ws") : server.kind === "grpc" ? grpcUrl() : s.url);
    let url = urlOf();
    try {
      const membersOf = async (rooms, size, prefix) => (isOurs ? ourRooms(s, rooms, size, `${prefix}${runId}-`) : bareRooms(rooms, size));
      const withTokens = async (members) => {
        if (isOurs) return freshTokens(members);
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
          url = urlOf();
        }
        process.stderr.write(`${server.name}: opening ${idleCount} idle connections\n`);
        // Ours: users first, then every token issued at once just before the readings start (tokens
        // live 5 minutes; issuing them during the user set-up let the first expire at high load).
        // Not per slice of connections: the token issuing's own garbage would count as the connections'.
        let tokensSeconds = 0;
        const members = isOurs
          ? await (async () => {
              const users = (await manyUsers(s, idleCount, `i${runId++}-`)).map((u) => ({ ...u, room: "" }));
              const t0 = performance.now();
              await issueConcurrently(users, 100);
              tokensSeconds = (performance.now() - t0) / 1000;
              return users;
            })()
          : server.kind === "centrifugo"
            ? await withTokens(Array.from({ length: idleCount }, () => ({ room: "" })))
            : Array.from({ length: idleCount }, () => ({ room: "idle" }));
        await sleep(2000);
        const before = rssKiB(s.pid);
        // Centrifugo is a Go process: RSS only, no JS heap.
        const heapBefore = server.kind === "centrifugo" ? { kib: NaN, newSpaceKiB: NaN } : await liveHeap(s.pid);
        if (isOurs) await heapSnapshot(s.pid, "before");
        const openedAt = performance.now();
        let opened;
        for (let i = 0; i < members.length; i += IDLE_SLICE) {
          const slice = members.slice(i, i + IDLE_SLICE);
          opened = await ask({ kind: server.kind, url, members: slice, idle: true, keep: true });
        }
        const openSeconds = (performance.now() - openedAt) / 1000;
        await sleep(3000);
        const after = rssKiB(s.pid);
        // RSS as the operator sees it right after the connections arrived (authentication garbage
        // and heap growth included), and (below) the live JS heap after a full GC in the server: what
        // the connections' objects really hold (socket buffers and other native memory not included).
        // RSS once the connections have been idle a while (CAAS_BENCH_IDLE_SETTLE_S, default 30 s),
        // before the bench forces a GC: what an idle instance keeps on its own.
        await sleep(Number(process.env.CAAS_BENCH_IDLE_SETTLE_S ?? 30) * 1000);
        const settled = rssKiB(s.pid);
        const heapAfter = server.kind === "centrifugo" ? { kib: NaN, newSpaceKiB: NaN } : await liveHeap(s.pid);
        if (isOurs) await heapSnapshot(s.pid, "after");
        // The last idle plan adds nothing: it answers how many are still open, then holds them until "done".
        const stillOpen = await ask({ kind: server.kind, url, members: [], idle: true });
        load.stdin.write("done\n");
        await replies.next();
        const perConnection = (a, b) => Number(((a - b) / opened.open).toFixed(2));
        results.memory.push({
          server: server.name,
          connections: opened.open,
          closedEarly: opened.closed,
          rssBeforeMiB: Math.round(before / 1024),
          rssAfterMiB: Math.round(after / 1024),
          tokensSeconds: Number(tokensSeconds.toFixed(1)),
          openSeconds: Number(openSeconds.toFixed(1)),
          openAfterSettling: stillOpen.open - stillOpen.closed,
          kibPerConnection: perConnection(after, before),
          kibPerConnectionSettled: perConnection(settled, before),
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
    const ours = rows.find((r) => r.server.startsWith("caas socket") && r.shape === shape)?.[key];
    return Object.fromEntries(rows.filter((r) => !r.server.startsWith("caas socket") && r.shape === shape).map((r) => [r.server, Number((ours / r[key]).toFixed(2))]));
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
