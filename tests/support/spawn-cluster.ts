import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, openSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exitWithParent, repoRoot, waitForLog, type PlatformInfo, type SpawnedPlatform } from "./spawn-platform.js";

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
}

/** The processes of a cluster: every service once, chat and socket twice (DESIGN). */
export const CLUSTER_LAYOUT: { service: string; instanceId: string }[] = [
  { service: "auth", instanceId: "auth-1" },
  { service: "chat", instanceId: "chat-1" },
  { service: "chat", instanceId: "chat-2" },
  { service: "socket", instanceId: "socket-1" },
  { service: "socket", instanceId: "socket-2" },
  { service: "media", instanceId: "media-1" },
  { service: "search", instanceId: "search-1" },
  { service: "compliance", instanceId: "compliance-1" },
  { service: "crypto", instanceId: "crypto-1" },
  { service: "gateway", instanceId: "gateway-1" },
];

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
export async function spawnCluster(opts: { runPrefix: string; serverEnv: Record<string, string> }): Promise<SpawnedPlatform & { info: ClusterInfo }> {
  const dir = mkdtempSync(join(tmpdir(), "caas-cluster-"));
  const planned = await Promise.all(
    CLUSTER_LAYOUT.map(async (p) => ({ ...p, port: await freePort() })),
  );
  const peerEnv: Record<string, string> = {};
  for (const p of planned) {
    const key = `CAAS_${p.service.toUpperCase()}_URL`;
    const url = `http://127.0.0.1:${p.port}`;
    peerEnv[key] = peerEnv[key] ? `${peerEnv[key]},${url}` : url;
  }
  const children: ChildProcess[] = [];
  const logFiles: string[] = [];
  const started = planned.map(async (p) => {
    const main = join(repoRoot, `services/${p.service}/dist/main.js`);
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\``);
    const logFile = join(dir, `${p.instanceId}.log`);
    logFiles.push(logFile);
    const out = openSync(logFile, "a");
    const child = spawn(process.execPath, [exitWithParent, process.execPath, main], {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        KAFKAJS_NO_PARTITIONER_WARNING: "1",
        CAAS_MODE: "cluster",
        CAAS_HOST: "127.0.0.1",
        CAAS_LOG_LEVEL: "info",
        CAAS_INSTANCE_ID: p.instanceId,
        CAAS_DATA_DIR: join(dir, p.instanceId),
        CAAS_KAFKA_PREFIX: `${opts.runPrefix}.`,
        // A database per run on the shared server, and a known platform-admin credential.
        CAAS_MONGO_DB: opts.runPrefix,
        CAAS_ADMIN_TOKEN: clusterAdminToken(opts.runPrefix),
        // The service-token root every process shares (cluster mode requires it).
        CAAS_SERVICE_SECRET: createHash("sha256").update(`caas-test-services:${opts.runPrefix}`).digest("hex"),
        [`CAAS_${p.service.toUpperCase()}_PORT`]: String(p.port),
        ...peerEnv,
        ...opts.serverEnv,
      },
      stdio: ["pipe", out, out],
    });
    children.push(child);
    await waitForLog(logFile, (l) => l.msg === "listening", 90_000, child);
  });
  try {
    await Promise.all(started);
  } catch (err) {
    for (const c of children) c.kill("SIGKILL");
    throw err;
  }
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
    },
    async stop() {
      const codes = await Promise.all(
        children.map(
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
