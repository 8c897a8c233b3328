import type { TestProject } from "vitest/node";
import { spawnCluster, type ClusterInfo } from "../support/spawn-cluster.js";
import { spawnEmbeddedPlatform, type PlatformInfo } from "../support/spawn-platform.js";
import { serverEnvFrom } from "../support/real-servers.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    embedded: PlatformInfo;
    /** Undefined when the real servers are not configured (never in CI: CAAS_REQUIRE_INFRA=1). */
    cluster: ClusterInfo | undefined;
  }
}

/**
 * One embedded platform per test run (DESIGN "Tests on 2 cores") and, when the real servers are
 * configured, one cluster (each service instance its own process; chat and socket twice). Both
 * are real processes on free ports; tests make a fresh tenant each.
 */
export default async function setup(project: TestProject) {
  const serverEnv = serverEnvFrom();
  const haveServers = serverEnv.CAAS_KAFKA_BROKERS !== undefined && serverEnv.CAAS_SCHEMA_REGISTRY_URL !== undefined;
  if (!haveServers && process.env.CAAS_REQUIRE_INFRA === "1") {
    throw new Error("CAAS_REQUIRE_INFRA=1 but CAAS_KAFKA_BROKERS/CAAS_SCHEMA_REGISTRY_URL are not set: run tests/infra/up and source its env file");
  }
  if (!haveServers) console.warn("SKIPPING the cluster-mode platform: the real servers are not configured (tests/infra/up); CI requires them");
  const runPrefix = `caas_e2e_${Date.now().toString(36)}_${process.pid}`;
  const [embedded, cluster] = await Promise.all([spawnEmbeddedPlatform(), haveServers ? spawnCluster({ runPrefix, serverEnv }) : Promise.resolve(undefined)]);
  project.provide("embedded", embedded.info);
  project.provide("cluster", cluster?.info);
  return async () => {
    const [e, c] = await Promise.all([embedded.stop(), cluster?.stop() ?? Promise.resolve(0)]);
    if (e !== 0) throw new Error(`embedded platform exited with ${e} on SIGTERM (expected a clean 0)`);
    if (c !== 0) throw new Error(`a cluster process exited with ${c} on SIGTERM (expected a clean 0)`);
  };
}
