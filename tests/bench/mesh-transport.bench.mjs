// Benchmark: one call between services in one process, over each mesh transport
// (CAAS_MESH_TRANSPORT, ADR 0185): loopback HTTP/2 through the callee's listener, and in process
// through the callee's own handlers. Both ends are the real kit: a service host with its whole
// interceptor chain (correlation, logging, errors, principal, internal-service guard, validation,
// in-flight tracking) and a peer client (createPeerClient) carrying a service token; the handler
// itself does nothing, so what is measured is the cost of the call's machinery.
//
// Reports, per transport, calls per second and process CPU (user + system) per call, at `inFlight`
// calls in progress. Transports alternate over `rounds` rounds, so a change in the machine's load
// falls on both.
//
// Usage: npm run build && node tests/bench/mesh-transport.bench.mjs [calls=20000] [inFlight=32] [rounds=3]
import { Writable } from "node:stream";
import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { createPeerClient, PeerDirectory } from "@caas/shared/clients";
import { loadConfig } from "@caas/shared/config";
import { createLogger } from "@caas/shared/logger";
import { startServiceHost } from "@caas/shared/server/service-host";
import { loadavg } from "node:os";

const calls = Number(process.argv[2] ?? 20_000);
const inFlight = Number(process.argv[3] ?? 32);
const rounds = Number(process.argv[4] ?? 3);
const TENANT = "01a215af-6132-725b-bc47-064e28d115d4";
const CONVERSATION = "01a215af-6132-725b-bc47-064e28d115d5";

const sink = new Writable({ write: (_c, _e, cb) => cb() });
const host = await startServiceHost({
  definition: {
    name: "chat",
    services: [ChatInternalService],
    register: (router) => router.service(ChatInternalService, { checkAccess: (req) => ({ accesses: [{ conversationId: req.conversationIds[0] }] }) }),
    principalResolver: { resolve: async (h) => (h.get("authorization") === "Bearer svc" ? { kind: "service", service: "socket" } : { kind: "anonymous" }) },
  },
  config: loadConfig({}),
  logger: createLogger({ service: "chat", instance: "bench", level: "warn", destination: sink }),
  port: 0,
});

function clientFor(transport) {
  const peers = new PeerDirectory();
  peers.set("chat", [host.url]);
  if (transport === "in-process") peers.setInProcess(host.url, host.inProcess);
  return createPeerClient(ChatInternalService, "chat", peers);
}

async function run(client, n) {
  const req = { tenantId: TENANT, userId: "u1", conversationIds: [CONVERSATION] };
  let next = 0;
  const worker = async () => {
    while (next++ < n) await client.checkAccess(req, { headers: { authorization: "Bearer svc" } });
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, worker));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { callsPerSec: Math.round((n * 1000) / ms), cpuUsPerCall: Number(((cpu.user + cpu.system) / n).toFixed(1)) };
}

const clients = { http2: clientFor("http2"), "in-process": clientFor("in-process") };
// Warm both paths (JIT, the HTTP/2 session) before measuring.
for (const c of Object.values(clients)) await run(c, 2_000);
const rows = [];
for (let r = 1; r <= rounds; r++) {
  for (const transport of r % 2 ? ["http2", "in-process"] : ["in-process", "http2"]) {
    const load = loadavg()[0].toFixed(2);
    rows.push({ round: r, transport, ...(await run(clients[transport], calls)), load1m: load });
  }
}
console.table(rows);
console.log(JSON.stringify({ node: process.version, calls, inFlight, rows }));
await host.close();
process.exit(0);
