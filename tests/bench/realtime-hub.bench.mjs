// Benchmark: the socket service's fan-out alone, without the platform around it.
//
// Usage: npm run build && node tests/bench/realtime-hub.bench.mjs [connections=1000] [events/s=200] [seconds=8]
import http from "node:http";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { pinned, repoRoot, sleep } from "./embedded-platform.mjs";

/** The process that holds the client connections (realtime-load.mjs --hub-client). */
const LOAD_SCRIPT = fileURLToPath(new URL("./realtime-load.mjs", import.meta.url));

// The socket service's fan-out alone ([connections=1000] [events/s=200] [seconds=8]): the
// compiled hub, sessions and WebSocket transport of this tree in this process (no chat, no bus,
// a verifier that accepts any token), every connection a member of one conversation, held by a
// `--hub-client` child; events are dispatched into the hub one per tick at a fixed rate. Prints
// the events dispatched, the deliveries received and the server's CPU time per delivery
// (process.cpuUsage), which other load on the machine disturbs far less than a rate does.

async function hubBench() {
  const [connections, rate, seconds] = [Number(process.argv[2] ?? 1000), Number(process.argv[3] ?? 200), Number(process.argv[4] ?? 8)];
  const dist = (p) => import(new URL(`../../${p}`, import.meta.url).href);
  const { createLogger } = await dist("services/shared/dist/logger.js");
  const { systemClock } = await dist("services/shared/dist/clock.js");
  const { EventSchema } = await import("@caas/gen/caas/chat/v1/event_pb.js");
  const { Hub } = await dist("services/socket/dist/hub.js");
  const { SessionRegistry } = await dist("services/socket/dist/sessions.js");
  const { createWebSocketEndpoint } = await dist("services/socket/dist/transports/websocket.js");
  const { FlushScheduler } = await dist("services/socket/dist/flush-scheduler.js");
  const { createOriginAllowlist } = await dist("services/shared/dist/server/origin.js");
  const verifier = {
    async verify(token) {
      const now = Math.floor(Date.now() / 1000);
      return {
        kid: "k",
        claims: { iss: "caas-auth", aud: "caas-api", sub: token, tenant: "t1", sid: `s-${token}`, device: "d", scopes: [], roles: [], jti: "j", iat: now, nbf: now, exp: now + 3600 },
        acceptedUntilMs: (now + 3600) * 1000,
      };
    },
    verifyServiceToken: async () => ({ service: "bench" }),
  };
  const chat = {
    listConversations: async () => ({ conversations: [{ conversation: { id: "c1", type: ConversationType.GROUP, memberCount: connections, lastSeq: 0n }, membership: {} }], nextPageToken: "" }),
  };
  const logger = createLogger({ service: "bench", instance: "bench", level: process.env.BENCH_LOG ?? "silent" });
  const hub = new Hub();
  const limits = { authTimeoutMs: 10_000, heartbeatMs: 30_000, maxQueuedFrames: 1_024, maxFrameBytes: 65_536, retryAfterMs: 1_000 };
  const registry = new SessionRegistry({ verifier, chat, hub, flush: new FlushScheduler(), clock: systemClock, logger, limits });
  const endpoint = createWebSocketEndpoint({
    maxFrameBytes: 65_536,
    maxPayload: 1 << 20,
    maxBufferedBytes: 4 << 20,
    logger,
    origins: createOriginAllowlist([]),
    newSession: (sink) => registry.open(sink, { clientHeartbeats: true, serverPongs: false }),
  });
  const server = http.createServer();
  server.on("upgrade", (req, socket, head) => endpoint.onUpgrade(req, socket, head));
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const child = pinned(1, [LOAD_SCRIPT, "--hub-client", String(server.address().port), String(connections)], { cwd: repoRoot, stdio: ["pipe", "pipe", "inherit"] });
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
  // Every connection is a member: anything short of every event on every connection is a fault.
  process.exit(got === expected ? 0 : 1);
}

await hubBench();
