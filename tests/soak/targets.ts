import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { connectMongo } from "@caas/shared/mongo";
import { spawnCluster, CLUSTER_LAYOUT, type SpawnedCluster } from "../support/spawn-cluster.js";
import { serverEnvFrom } from "../support/real-servers.mjs";
import { spawnEmbeddedPlatform, type SpawnedEmbedded } from "../support/spawn-platform.js";
import { startPrivateKafka } from "./private-kafka.js";

/** The platform under soak: real processes this test started, which it may kill and start again. */
export interface SoakTarget {
  mode: "embedded" | "cluster";
  gatewayUrl: string;
  authUrl: string;
  adminToken: string;
  /** What can be killed: a name per fault kind (an instance id, or "platform"). */
  faultKinds: string[];
  /** SIGKILLs the process(es) of `kind`, then starts them again as a supervisor would; resolves once listening. */
  killAndRestart(kind: string): Promise<{ killedAt: number; restartedAt: number }>;
  /** The running processes' pids by name (for memory sampling). */
  pids(): Map<string, number>;
  /** The processes' log files (of every start). */
  logs(): string[];
  /** Stops every process (SIGTERM) and removes their data, and their logs unless `keepLogs`. */
  stop(opts: { keepLogs: boolean }): Promise<number | null>;
}

/** The service port variables the embedded platform takes (endpoint name to variable). */
const EMBEDDED_PORTS: Record<string, string> = {
  gateway: "CAAS_GATEWAY_PORT",
  auth: "CAAS_AUTH_PORT",
  chat: "CAAS_CHAT_PORT",
  socket: "CAAS_SOCKET_PORT",
  media: "CAAS_MEDIA_PORT",
  search: "CAAS_SEARCH_PORT",
  compliance: "CAAS_COMPLIANCE_PORT",
  crypto: "CAAS_CRYPTO_PORT",
};

/**
 * The single embedded process (`npm start`'s command); a fault kills it whole and starts it
 * again on the same data directory and ports.
 */
export async function embeddedTarget(): Promise<SoakTarget> {
  let platform: SpawnedEmbedded = await spawnEmbeddedPlatform({ CAAS_REALTIME_CHECKPOINT_MS: "500" });
  const dataDir = platform.info.dataDir;
  // Each start logs into a directory of its own; the first one also holds the data directory.
  const logFiles = [...platform.info.logFiles];
  const again: Record<string, string> = { CAAS_DATA_DIR: dataDir, CAAS_REALTIME_CHECKPOINT_MS: "500" };
  for (const [name, url] of Object.entries(platform.info.endpoints)) {
    const variable = EMBEDDED_PORTS[name];
    if (variable) again[variable] = new URL(url).port;
  }
  return {
    mode: "embedded",
    gatewayUrl: platform.info.endpoints.gateway!,
    authUrl: platform.info.endpoints.auth!,
    adminToken: readFileSync(join(dataDir, "admin-credential"), "utf8").trim(),
    faultKinds: ["platform"],
    async killAndRestart() {
      const killedAt = Date.now();
      await platform.kill();
      platform = await spawnEmbeddedPlatform(again);
      logFiles.push(...platform.info.logFiles);
      return { killedAt, restartedAt: Date.now() };
    },
    pids() {
      try {
        return new Map([["platform", platform.pid()]]);
      } catch {
        return new Map(); // between a kill and the restart
      }
    },
    logs: () => logFiles,
    async stop({ keepLogs }) {
      const code = await platform.stop();
      rmSync(dataDir, { recursive: true, force: true });
      if (!keepLogs) for (const f of logFiles) rmSync(join(f, ".."), { recursive: true, force: true });
      return code;
    },
  };
}

/** The processes a cluster fault may kill: every instance of the request and realtime paths, and the Kafka broker. */
export const CLUSTER_FAULTS = ["chat-1", "chat-2", "socket-1", "socket-2", "gateway-1", "auth-1", "kafka"];

/** A short run's faults: one chat instance, one socket instance (each picked at random) and the Kafka broker. */
export function shortClusterFaults(random: () => number = Math.random): string[] {
  return [`chat-${random() < 0.5 ? 1 : 2}`, `socket-${random() < 0.5 ? 1 : 2}`, "kafka"];
}

/**
 * A private cluster (the full layout: chat and socket twice) on the real servers of
 * tests/infra, with its own database, topics and consumer groups, and a Kafka broker of its own
 * (private-kafka.ts) that the "kafka" fault kills and restarts on its data. A socket instance gets
 * a new instance id at every start, as the host-and-pid default gives a restarted process (so its
 * bus consumer joins a new group and starts from the newest record: the harder case for realtime).
 */
export async function clusterTarget(faultKinds: string[] = CLUSTER_FAULTS): Promise<SoakTarget> {
  const serverEnv = serverEnvFrom();
  if (!serverEnv.CAAS_KAFKA_BROKERS || !serverEnv.CAAS_MONGO_URL) throw new Error("the cluster soak needs the real servers: source ~/.cache/caas-infra/env (tests/infra/up)");
  const kafka = await startPrivateKafka();
  serverEnv.CAAS_KAFKA_BROKERS = kafka.brokers;
  const runPrefix = `caas_soak_${Date.now().toString(36)}_${process.pid}`;
  const starts = new Map<string, number>();
  let spawned: SpawnedCluster;
  try {
    spawned = await spawnCluster({
      runPrefix,
      serverEnv,
      // A loaded machine has been seen to take over a minute to connect a producer to the shared broker.
      startTimeoutMs: 240_000,
      layout: CLUSTER_LAYOUT.map((p) => ({
        ...p,
        env: () => {
          const n = (starts.get(p.instanceId) ?? 0) + 1;
          starts.set(p.instanceId, n);
          return { CAAS_REALTIME_CHECKPOINT_MS: "500", ...(p.service === "socket" ? { CAAS_INSTANCE_ID: `${p.instanceId}-start-${n}` } : {}) };
        },
      })),
    });
  } catch (err) {
    await kafka.stop({ keepLogs: true });
    throw err;
  }
  const url = (instanceId: string) => spawned.info.instances.find((i) => i.instanceId === instanceId)!.url;
  return {
    mode: "cluster",
    gatewayUrl: url("gateway-1"),
    authUrl: url("auth-1"),
    adminToken: spawned.info.adminToken,
    faultKinds,
    async killAndRestart(kind) {
      const killedAt = Date.now();
      if (kind === "kafka") {
        await kafka.kill();
        await kafka.start();
      } else {
        await spawned.kill(kind);
        await spawned.start(kind);
      }
      return { killedAt, restartedAt: Date.now() };
    },
    pids() {
      const out = new Map<string, number>();
      const broker = kafka.pid();
      if (broker !== undefined) out.set("kafka", broker);
      for (const i of spawned.info.instances) {
        const pid = spawned.pidOf(i.instanceId);
        if (pid !== undefined) out.set(i.instanceId, pid);
      }
      return out;
    },
    logs: () => [...spawned.info.logFiles, kafka.logFile],
    async stop({ keepLogs }) {
      const code = await spawned.stop();
      await kafka.stop({ keepLogs });
      const mongo = await connectMongo(serverEnv.CAAS_MONGO_URL!, runPrefix);
      await mongo.client.db(runPrefix).dropDatabase();
      await mongo.close();
      if (!keepLogs) rmSync(spawned.info.dataDir, { recursive: true, force: true });
      return code;
    },
  };
}
