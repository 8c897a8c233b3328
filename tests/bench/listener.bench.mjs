// Benchmark: the one-port listener (docs/decisions/0001) against plain Node servers, in one run.
// Server and load run in separate processes pinned to different cores (taskset) when available.
// Usage: npm run build && node tests/bench/listener.bench.mjs [seconds-per-case=5] [concurrency=32]
import { execFileSync, spawn } from "node:child_process";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Health } from "@caas/gen/grpc/health/v1/health_pb.js";

const seconds = Number(process.argv[2] ?? 5);
const concurrency = Number(process.argv[3] ?? 32);
const here = fileURLToPath(new URL(".", import.meta.url));
const haveTaskset = process.env.CAAS_BENCH_NO_TASKSET
  ? false
  : (() => {
      try {
        execFileSync("taskset", ["-c", "0", "true"]);
        return true;
      } catch {
        return false;
      }
    })();

async function startServer(mode) {
  const cmd = haveTaskset ? "taskset" : process.execPath;
  const args = haveTaskset ? ["-c", "0", process.execPath, `${here}listener-server.mjs`, mode] : [`${here}listener-server.mjs`, mode];
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise((resolve) => child.stdout.once("data", (d) => resolve(Number(String(d).trim()))));
  return { port, stop: () => child.kill("SIGKILL") };
}

async function run(label, mode, makeTransport) {
  const server = await startServer(mode);
  const client = createClient(Health, makeTransport(`http://127.0.0.1:${server.port}`));
  for (let i = 0; i < 200; i++) await client.check({ service: "" }); // warm up
  const latencies = [];
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await client.check({ service: "" });
        latencies.push(performance.now() - t);
      }
    }),
  );
  server.stop();
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(2);
  return { case: label, "calls/s": Math.round(latencies.length / seconds), "p50 ms": q(0.5), "p99 ms": q(0.99) };
}

if (haveTaskset) process.stderr.write("server pinned to core 0, load pinned to core 1\n");
const h2 = (baseUrl) => createGrpcTransport({ baseUrl });
const h1 = (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1" });
const rows = [];
rows.push(await run("gRPC/h2c, plain http2 server (baseline)", "h2c", h2));
rows.push(await run("gRPC/h2c, one-port listener", "dual", h2));
rows.push(await run("Connect/HTTP1.1, plain http server (baseline)", "h1", h1));
rows.push(await run("Connect/HTTP1.1, one-port listener", "dual", h1));
console.table(rows);
console.log(JSON.stringify({ node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, seconds, concurrency, rows }));
process.exit(0);
