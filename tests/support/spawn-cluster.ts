import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, openSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLUSTER_LAYOUT } from "./real-servers.mjs";
import { exitWithParent, repoRoot, servicePid, TEST_ALLOWED_ORIGIN, waitForLog, type PlatformInfo, type SpawnedPlatform } from "./spawn-platform.js";

/** One process of the cluster. */
export interface ClusterInstance {
  service: string;
  instanceId: string;
  url: string;
}

export interface ClusterInfo extends PlatformInfo {
  instances: ClusterInstance[];
  /** The platform-admin credential the cluster was started with. */
  adminToken: string;
  /** The run's prefix: its MongoDB database name, Kafka topic and index prefixes. */
  runPrefix: string;
}

/** A running cluster; only the process that spawned it can kill and restart its instances. */
export interface SpawnedCluster extends SpawnedPlatform {
  info: ClusterInfo;
  /** SIGKILLs one instance's service process; resolves once it has exited. */
  kill(instanceId: string): Promise<void>;
  /** Starts a killed instance again (same port, data directory, log file); resolves once it listens. */
  start(instanceId: string): Promise<void>;
  /** The pid of a running instance's service process (for its memory, say). */
  pidOf(instanceId: string): number | undefined;
}

/** One process of a cluster about to start, with the port it will listen on. */
export interface PlannedInstance {
  service: string;
  instanceId: string;
  port: number;
}

/** The processes of a cluster: every service once, chat and socket twice (DESIGN). */
export { CLUSTER_LAYOUT };

/** The platform-admin credential of a test cluster (CAAS_ADMIN_TOKEN, at least 32 characters). */
export function clusterAdminToken(runPrefix: string): string {
  return createHash("sha256").update(`caas-test-admin:${runPrefix}`).digest("hex");
}

/**
 * A free port for a cluster process. Chosen below the kernel's ephemeral range (32768+ here):
 * a port picked by binding :0 and closing can be taken again before the process binds it, by any
 * outgoing connection's local port (Kafka, Redis and MongoDB clients open many). Ports in
 * 21000-26999 are never handed out as ephemeral ports and hold none of tests/infra's servers.
 */
const takenPorts = new Set<number>();
async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 21000 + Math.floor(Math.random() * 6000);
    if (takenPorts.has(port)) continue;
    takenPorts.add(port);
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once("error", () => resolve(false));
      srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error("no free port in 21000-26999 for the test cluster");
}

/**
 * Starts the platform in cluster mode: each service instance its own process running compiled
 * JavaScript (`node services/<name>/dist/main.js`), against the real engines named by the
 * CAAS_* server variables (tests/infra/up). Topics and groups get a per-run prefix.
 */
export async function spawnCluster(opts: {
  runPrefix: string;
  serverEnv: Record<string, string>;
  /**
   * Which processes to start (default CLUSTER_LAYOUT); a test may start a private subset. `env`
   * is evaluated at every start of the instance (e.g. a new CAAS_INSTANCE_ID per start, as a
   * process that takes its default from host and pid gets).
   */
  layout?: { service: string; instanceId: string; env?: () => Record<string, string> }[];
  /**
   * The whole environment of each process, given every planned instance and its port, instead of
   * the default one (the compose-topology test runs compose's own environments).
   */
  envFor?: (instance: PlannedInstance, all: PlannedInstance[]) => Record<string, string>;
  /** How long a process may take to listen (default 90 s). */
  startTimeoutMs?: number;
}): Promise<SpawnedCluster> {
  const dir = mkdtempSync(join(tmpdir(), "caas-cluster-"));
  const planned = await Promise.all((opts.layout ?? (CLUSTER_LAYOUT as NonNullable<typeof opts.layout>)).map(async (p) => ({ ...p, port: await freePort() })));
  const peerEnv: Record<string, string> = {};
  for (const p of planned) {
    const key = `CAAS_${p.service.toUpperCase()}_URL`;
    const url = `http://127.0.0.1:${p.port}`;
    peerEnv[key] = peerEnv[key] ? `${peerEnv[key]},${url}` : url;
  }
  const children = new Map<string, ChildProcess>();
  const logFiles: string[] = planned.map((p) => join(dir, `${p.instanceId}.log`));
  /** Starts one instance (again, after a kill: same port, data directory and log file). */
  const start = async (p: (typeof planned)[number]) => {
    const main = join(repoRoot, `services/${p.service}/dist/main.js`);
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\``);
    const logFile = join(dir, `${p.instanceId}.log`);
    const out = openSync(logFile, "a");
    const since = Date.now() - 1;
    const child = spawn(process.execPath, [exitWithParent, process.execPath, main], {
      cwd: repoRoot,
      env: opts.envFor?.(p, planned) ?? {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        KAFKAJS_NO_PARTITIONER_WARNING: "1",
        CAAS_MODE: "cluster",
        CAAS_HOST: "127.0.0.1",
        CAAS_LOG_LEVEL: "info",
        CAAS_INSTANCE_ID: p.instanceId,
        CAAS_CORS_ORIGINS: TEST_ALLOWED_ORIGIN,
        CAAS_DATA_DIR: join(dir, p.instanceId),
        CAAS_KAFKA_PREFIX: `${opts.runPrefix}.`,
        // A database per run on the shared server, and a known platform-admin credential.
        CAAS_MONGO_DB: opts.runPrefix,
        CAAS_ELASTICSEARCH_INDEX_PREFIX: `${opts.runPrefix.toLowerCase()}-`,
        CAAS_ADMIN_TOKEN: clusterAdminToken(opts.runPrefix),
        // The service-token root every process shares (cluster mode requires it).
        CAAS_SERVICE_SECRET: createHash("sha256").update(`caas-test-services:${opts.runPrefix}`).digest("hex"),
        [`CAAS_${p.service.toUpperCase()}_PORT`]: String(p.port),
        ...peerEnv,
        ...opts.serverEnv,
        ...p.env?.(),
      },
      stdio: ["pipe", out, out],
    });
    children.set(p.instanceId, child);
    // The log file is appended to across restarts: only a line of this start counts.
    await waitForLog(logFile, (l) => l.msg === "listening" && Date.parse(String(l.time)) >= since, opts.startTimeoutMs ?? 90_000, child);
  };
  try {
    await Promise.all(planned.map(start));
  } catch (err) {
    // SIGTERM, which the exit-with-parent wrapper passes on to the service; a SIGKILLed wrapper
    // could not, and its service would outlive the run (orphans were seen after a slow start).
    for (const c of children.values()) {
      c.stdin?.end();
      c.kill("SIGTERM");
    }
    throw err;
  }
  const control = {
    async kill(instanceId: string) {
      const child = children.get(instanceId);
      if (!child || child.exitCode !== null || child.signalCode !== null) throw new Error(`${instanceId} is not running`);
      const exited = new Promise((r) => child.once("exit", r));
      // SIGKILL the service itself, not the exit-with-parent wrapper around it (a wrapper killed
      // this way could not pass the signal on): the wrapper then exits too.
      process.kill(servicePid(child), "SIGKILL");
      await exited;
    },
    pidOf(instanceId: string) {
      const child = children.get(instanceId);
      try {
        return child && child.exitCode === null && child.signalCode === null ? servicePid(child) : undefined;
      } catch {
        return undefined; // the wrapper is ending after its service was killed
      }
    },
    async start(instanceId: string) {
      const p = planned.find((x) => x.instanceId === instanceId);
      if (!p) throw new Error(`no instance ${instanceId}`);
      const child = children.get(instanceId);
      if (child && child.exitCode === null && child.signalCode === null) throw new Error(`${instanceId} is running`);
      await start(p);
    },
  };
  const endpoints: Record<string, string> = {};
  for (const p of planned) endpoints[p.service] ??= `http://127.0.0.1:${p.port}`;
  return {
    info: {
      mode: "cluster",
      endpoints,
      logFiles,
      dataDir: dir,
      instances: planned.map((p) => ({ service: p.service, instanceId: p.instanceId, url: `http://127.0.0.1:${p.port}` })),
      adminToken: clusterAdminToken(opts.runPrefix),
      runPrefix: opts.runPrefix,
    },
    ...control,
    async stop() {
      const codes = await Promise.all(
        [...children.values()].map(
          (c) =>
            new Promise<number | null>((resolve) => {
              if (c.exitCode !== null) return resolve(c.exitCode);
              c.once("exit", (code) => resolve(code));
              c.kill("SIGTERM");
            }),
        ),
      );
      return codes.every((c) => c === 0) ? 0 : (codes.find((c) => c !== 0) ?? null);
    },
  };
}
