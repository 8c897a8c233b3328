// The cluster-mode platform for benchmarks: every service instance its own process running the
// compiled JavaScript (`node services/<name>/dist/main.js`), chat and socket twice, against the
// real engines named by CAAS_KAFKA_BROKERS, CAAS_SCHEMA_REGISTRY_URL, CAAS_MONGO_URL and
// CAAS_REDIS_URL, and the S3 server by CAAS_S3_* (tests/infra/up writes them to ~/.cache/caas-infra/env). It mirrors
// tests/support/spawn-cluster.ts (same layout, ports, environment) in plain JavaScript, because
// benchmarks run with node, not vitest. Topics, consumer groups and the MongoDB database get a
// per-run prefix; the database is dropped on stop.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MongoClient } from "mongodb";
import { startNodeFlags } from "./embedded-platform.mjs";
import { CLUSTER_LAYOUT, SERVER_VARS } from "../support/real-servers.mjs";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
// Ends the service processes when the benchmark dies, however it dies.
const exitWithParent = fileURLToPath(new URL("../support/exit-with-parent.mjs", import.meta.url));
const mongoCounter = fileURLToPath(new URL("./mongo-command-counter.cjs", import.meta.url));
const LAYOUT = CLUSTER_LAYOUT.map((p) => [p.service, p.instanceId]);

/** The engine addresses from the environment, or an error naming what is missing. */
export function clusterServerEnv() {
  const missing = SERVER_VARS.filter((v) => !process.env[v]);
  if (missing.length > 0) throw new Error(`cluster mode needs ${missing.join(", ")}: run tests/infra/up and \`source ~/.cache/caas-infra/env\``);
  return Object.fromEntries(SERVER_VARS.map((v) => [v, process.env[v]]));
}

/** A port below the ephemeral range (see spawn-cluster.ts freePort for why). */
const taken = new Set();
async function freePort() {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 21000 + Math.floor(Math.random() * 6000);
    if (taken.has(port)) continue;
    taken.add(port);
    const free = await new Promise((resolve) => {
      const srv = createServer();
      srv.once("error", () => resolve(false));
      srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error("no free port in 21000-26999");
}

/** User + system CPU seconds of a process so far (/proc/<pid>/stat, in clock ticks of 1/100 s), 0 once it is gone. */
function cpuSecondsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** The CPU seconds of a spawned wrapper (exit-with-parent.mjs) and of the service process it runs. */
function serviceCpuSeconds(wrapperPid) {
  let children = [];
  try {
    children = readFileSync(`/proc/${wrapperPid}/task/${wrapperPid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
  } catch {
    // gone
  }
  return cpuSecondsOf(wrapperPid) + children.reduce((sum, pid) => sum + cpuSecondsOf(pid), 0);
}

function logLines(file) {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    });
}

/**
 * Starts the cluster; `run(args, opts)` spawns a node process (the caller pins it to a core).
 * Resolves with the endpoints once every process logs "listening".
 */
export async function startClusterPlatform(run) {
  const serverEnv = clusterServerEnv();
  const runPrefix = `caas_bench_${Date.now().toString(36)}_${process.pid}`;
  const adminToken = randomBytes(32).toString("hex");
  const dir = mkdtempSync(join(tmpdir(), "caas-bench-cluster-"));
  const planned = await Promise.all(LAYOUT.map(async ([service, instanceId]) => ({ service, instanceId, port: await freePort() })));
  const peerEnv = {};
  for (const p of planned) {
    const key = `CAAS_${p.service.toUpperCase()}_URL`;
    const url = `http://127.0.0.1:${p.port}`;
    peerEnv[key] = peerEnv[key] ? `${peerEnv[key]},${url}` : url;
  }
  const children = [];
  const pids = new Map();
  const stop = async () => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once("exit", resolve);
            c.kill("SIGTERM");
          }),
      ),
    );
    const mongo = new MongoClient(serverEnv.CAAS_MONGO_URL);
    try {
      await mongo.connect();
      await mongo.db(runPrefix).dropDatabase();
    } catch (err) {
      process.stderr.write(`could not drop the benchmark database ${runPrefix}: ${err}\n`);
    } finally {
      await mongo.close();
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(
      planned.map(async (p) => {
        const main = join(repoRoot, `services/${p.service}/dist/main.js`);
        if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\``);
        const logFile = join(dir, `${p.instanceId}.log`);
        const out = openSync(logFile, "a");
        // The node flags of `npm start` (the Docker image sets the same in NODE_OPTIONS; ADR 0029).
        // Every process counts its MongoDB commands (mongo-command-counter.cjs) into <dir>/<instance>.mongo.json.
        // CAAS_BENCH_CPU_PROF=gateway-1,chat-1 profiles those instances (.cpuprofile files in CAAS_BENCH_CPU_PROF_DIR, default /tmp/caas-prof, written when they stop).
        const profiled = (process.env.CAAS_BENCH_CPU_PROF ?? "").split(",").includes(p.instanceId);
        const profFlags = profiled ? ["--cpu-prof", `--cpu-prof-dir=${process.env.CAAS_BENCH_CPU_PROF_DIR ?? "/tmp/caas-prof"}`, `--cpu-prof-name=${p.instanceId}-${Date.now()}.cpuprofile`] : [];
        const child = run([exitWithParent, process.execPath, ...startNodeFlags(), ...profFlags, "--require", mongoCounter, main], {
          cwd: repoRoot,
          env: {
            PATH: process.env.PATH ?? "",
            HOME: process.env.HOME ?? "",
            KAFKAJS_NO_PARTITIONER_WARNING: "1",
            CAAS_MODE: "cluster",
            CAAS_HOST: "127.0.0.1",
            CAAS_LOG_LEVEL: "info",
            CAAS_INSTANCE_ID: p.instanceId,
            CAAS_BENCH_MONGO_COUNTS: join(dir, `${p.instanceId}.mongo.json`),
            CAAS_DATA_DIR: join(dir, p.instanceId),
            CAAS_KAFKA_PREFIX: `${runPrefix}.`,
            CAAS_MONGO_DB: runPrefix,
            CAAS_ELASTICSEARCH_INDEX_PREFIX: `${runPrefix.toLowerCase()}-`,
            CAAS_ADMIN_TOKEN: adminToken,
            CAAS_SERVICE_SECRET: createHash("sha256").update(`caas-bench-services:${runPrefix}`).digest("hex"),
            [`CAAS_${p.service.toUpperCase()}_PORT`]: String(p.port),
            ...peerEnv,
            ...serverEnv,
            // A run may set the gateway's outstanding bound (ADR 0159), e.g. very high to measure without it.
            ...(process.env.CAAS_GATEWAY_MAX_OUTSTANDING ? { CAAS_GATEWAY_MAX_OUTSTANDING: process.env.CAAS_GATEWAY_MAX_OUTSTANDING } : {}),
            ...(process.env.CAAS_GATEWAY_TARGET_WAIT_MS ? { CAAS_GATEWAY_TARGET_WAIT_MS: process.env.CAAS_GATEWAY_TARGET_WAIT_MS } : {}),
            // CAAS_BENCH_ENV_<NAME> reaches every service as <NAME>, as on the embedded platform (e.g. CAAS_BENCH_ENV_CAAS_RATE_LIMITS).
            ...Object.fromEntries(Object.entries(process.env).flatMap(([k, v]) => (k.startsWith("CAAS_BENCH_ENV_") ? [[k.slice("CAAS_BENCH_ENV_".length), v]] : []))),
          },
          stdio: ["pipe", out, out],
        });
        children.push(child);
        pids.set(p.instanceId, child.pid);
        const deadline = Date.now() + 300_000; // generous: a loaded 2-core machine starts ten processes slowly
        while (!logLines(logFile).some((l) => l.msg === "listening")) {
          if (child.exitCode !== null || Date.now() > deadline) {
            throw new Error(`${p.instanceId} did not start:\n${readFileSync(logFile, "utf8").slice(-3000)}`);
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      }),
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const urlsOf = (service) => planned.filter((p) => p.service === service).map((p) => `http://127.0.0.1:${p.port}`);
  return {
    endpoints: { auth: urlsOf("auth")[0], gateway: urlsOf("gateway")[0], chat: urlsOf("chat")[0], compliance: urlsOf("compliance")[0] },
    chatUrls: urlsOf("chat"),
    adminCredential: adminToken,
    /** MongoDB commands sent so far per instance, by command name (rewritten every 200 ms by each process). */
    mongoCommands: () =>
      Object.fromEntries(
        planned.map((p) => {
          const f = join(dir, `${p.instanceId}.mongo.json`);
          return [p.instanceId, existsSync(f) ? JSON.parse(readFileSync(f, "utf8")) : {}];
        }),
      ),
    /** CPU seconds (user + system) each instance's process has used so far, by instance id. */
    cpuSeconds: () => Object.fromEntries([...pids].map(([id, pid]) => [id, serviceCpuSeconds(pid)])),
    /** The JSON log lines of one instance so far (e.g. "chat-1"). */
    logOf: (instanceId) => logLines(join(dir, `${instanceId}.log`)),
    stop,
  };
}
