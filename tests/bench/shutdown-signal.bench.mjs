// Benchmark: what one unary call costs a service host while it holds many streams open.
//
// Every call in progress links its handler context to the host's shutdown signal until it ends
// (connect's createLinkedAbortController); on Node's AbortSignal adding and removing that listener
// scans every listener (ADR 0206). A host with no services of its own (health only) holds `streams`
// Health.Watch streams open over several HTTP/2 connections, then serves `calls` Health.Check
// calls, `inFlight` at a time; reported: process CPU (user + system) per call, with no streams
// open and with `streams` open, in the same run. Client and host share the process: the
// difference between the two is the host's.
//
// Usage: npm run build && node tests/bench/shutdown-signal.bench.mjs [streams=10000] [calls=5000] [inFlight=8]
import { setMaxListeners } from "node:events";
import { loadavg } from "node:os";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health } from "@caas/gen/grpc/health/v1/health_pb.js";
import { loadConfig } from "@caas/shared/config";
import { createLogger } from "@caas/shared/logger";
import { startServiceHost } from "@caas/shared/server/service-host";

const streams = Number(process.argv[2] ?? 10_000);
const calls = Number(process.argv[3] ?? 5_000);
const inFlight = Number(process.argv[4] ?? 8);
const PER_CONNECTION = 900;

const host = await startServiceHost({
  definition: { name: "probe", services: [], register: () => {} },
  config: loadConfig({ CAAS_SHUTDOWN_GRACE_MS: "200" }),
  logger: createLogger({ service: "probe", instance: "bench", level: "silent" }),
  port: 0,
});

async function cpuPerCall() {
  const client = createClient(Health, createGrpcTransport({ baseUrl: host.url }));
  for (let i = 0; i < 200; i++) await client.check({ service: "" }); // warm-up
  let next = 0;
  const t0 = process.cpuUsage();
  const w0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next++ < calls) await client.check({ service: "" });
    }),
  );
  const d = process.cpuUsage(t0);
  return { cpuUsPerCall: Number(((d.user + d.system) / calls).toFixed(1)), callsPerSec: Math.round(calls / ((performance.now() - w0) / 1000)) };
}

const without = await cpuPerCall();
const stop = new AbortController();
setMaxListeners(0, stop.signal);
let open = 0;
for (let i = 0; i < streams; i += PER_CONNECTION) {
  const client = createClient(Health, createGrpcTransport({ baseUrl: host.url }));
  for (let j = i; j < Math.min(streams, i + PER_CONNECTION); j++) {
    void (async () => {
      try {
        for await (const _ of client.watch({ service: "" }, { signal: stop.signal })) {
          open++;
          break;
        }
        // Held open: the first answer came; wait for the end of the run.
        await new Promise((r) => stop.signal.addEventListener("abort", r, { once: true }));
      } catch {
        // ended by the run
      }
    })();
  }
}
while (open < streams) await new Promise((r) => setTimeout(r, 50));
const withStreams = await cpuPerCall();
console.log(JSON.stringify({ node: process.version, loadAverage1m: Number(loadavg()[0].toFixed(1)), streams, calls, inFlight, withoutStreams: without, withStreams }));
stop.abort();
await host.close();
process.exit(0);
