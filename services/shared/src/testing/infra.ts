/**
 * Addresses of real servers for cluster-adapter tests (tests/infra/up writes them to an env file
 * that CI sources). A suite whose server is not configured is skipped with a loud warning; with
 * CAAS_REQUIRE_INFRA=1 (CI) a missing server is an error instead, so CI can never skip.
 */
export type InfraVar = "CAAS_MONGO_URL" | "CAAS_KAFKA_BROKERS" | "CAAS_SCHEMA_REGISTRY_URL" | "CAAS_REDIS_URL" | "CAAS_ELASTICSEARCH_URL" | "CAAS_S3_ENDPOINT";

export function infraEnv(name: InfraVar): string | undefined {
  const value = process.env[name]?.trim();
  if (value) return value;
  if (process.env.CAAS_REQUIRE_INFRA === "1") {
    throw new Error(`${name} is not set but CAAS_REQUIRE_INFRA=1: run tests/infra/up and source its env file`);
  }
  console.warn(`SKIPPING cluster-adapter tests: ${name} is not set (run tests/infra/up; CI requires it)`);
  return undefined;
}

/** A per-run prefix for databases, topics, Redis keys and indexes on shared servers. */
export const RUN_PREFIX = `caas_test_${process.env.CAAS_TEST_RUN_ID ?? `${Date.now().toString(36)}_${process.pid}`}`;
