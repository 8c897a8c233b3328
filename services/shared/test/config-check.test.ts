import { describe, expect, it } from "vitest";
import { startConfig, type ConfigCheckIo } from "../src/config-check.js";

class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** Runs startConfig with a captured output and an exit that throws instead of ending the process. */
function run(service: Parameters<typeof startConfig>[0], env: Record<string, string>, argv: string[] = []) {
  let out = "";
  let err = "";
  const io: ConfigCheckIo = {
    argv: ["node", "main.js", ...argv],
    env,
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    exit: (code) => {
      throw new Exit(code);
    },
  };
  try {
    const config = startConfig(service, io);
    return { code: undefined, config, out, err };
  } catch (e) {
    if (e instanceof Exit) return { code: e.code, config: undefined, out, err };
    throw e;
  }
}

const SECRETS = {
  admin: "admin-token-0123456789abcdef0123456789abcdef",
  service: "service-secret-0123456789abcdef0123456789abcdef",
  s3: "s3-secret-key-never-printed",
  s3Access: "s3-access-key-never-printed",
  mongo: "mongo-password-never-printed",
  redis: "redis-password-never-printed",
};

const mediaEnv = {
  CAAS_MODE: "cluster",
  CAAS_INSTANCE_ID: "media",
  CAAS_ADMIN_TOKEN: SECRETS.admin,
  CAAS_SERVICE_SECRET: SECRETS.service,
  CAAS_AUTH_URL: "http://auth:3007",
  CAAS_CHAT_URL: "http://chat-1:3004,http://chat-2:3004",
  CAAS_MONGO_URL: `mongodb://caas:${SECRETS.mongo}@mongo-1:27017,mongo-2:27017,mongo-3:27017/?replicaSet=rs0`,
  CAAS_KAFKA_BROKERS: "kafka-1:9092,kafka-2:9092,kafka-3:9092",
  CAAS_SCHEMA_REGISTRY_URL: "http://schema-registry:8081",
  CAAS_REDIS_URL: `rediss://:${SECRETS.redis}@redis:6379`,
  CAAS_S3_ENDPOINT: "http://minio:9000",
  CAAS_S3_ACCESS_KEY: SECRETS.s3Access,
  CAAS_S3_SECRET_KEY: SECRETS.s3,
};

describe("--check-config", () => {
  it("prints the resolved settings with every secret masked and exits 0", () => {
    const r = run("media", mediaEnv, ["--check-config"]);
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    const lines = r.out.split("\n");
    expect(lines[0]).toBe("media: configuration is valid (cluster mode); resolved settings, secrets masked:");
    expect(lines).toContain("  CAAS_MEDIA_PORT=3005");
    expect(lines).toContain("  CAAS_MONGO_URL=mongodb://caas:***@mongo-1:27017,mongo-2:27017,mongo-3:27017/?replicaSet=rs0");
    expect(lines).toContain("  CAAS_REDIS_URL=rediss://:***@redis:6379");
    expect(lines).toContain("  CAAS_ADMIN_TOKEN=***");
    expect(lines).toContain("  CAAS_SERVICE_SECRET=***");
    expect(lines).toContain("  CAAS_S3_SECRET_KEY=***");
    expect(lines).toContain("  CAAS_CHAT_URL=http://chat-1:3004,http://chat-2:3004");
    // Only its own port: the others are not this process's business.
    expect(r.out).not.toContain("CAAS_CHAT_PORT");
    for (const s of Object.values(SECRETS)) expect(r.out).not.toContain(s);
  });

  it("CAAS_CHECK_CONFIG=1 does the same without the flag; 0 starts normally", () => {
    expect(run("media", { ...mediaEnv, CAAS_CHECK_CONFIG: "1" }).code).toBe(0);
    const normal = run("media", { ...mediaEnv, CAAS_CHECK_CONFIG: "0" });
    expect(normal.code).toBeUndefined();
    expect(normal.config?.cluster.s3SecretKey).toBe(SECRETS.s3);
    expect(normal.out).toBe("");
    expect(run("media", { ...mediaEnv, CAAS_CHECK_CONFIG: "yes" }).err).toContain('CAAS_CHECK_CONFIG="yes" must be 1 or 0');
  });

  it("an invalid configuration: one line per problem naming the variable, secrets masked, exit 2", () => {
    const env = { ...mediaEnv, CAAS_MONGO_URL: `mongodb://caas:${SECRETS.mongo}@mongo-1:27017/?replicaSett=rs0`, CAAS_S3_SECRET_KEY: "" };
    for (const argv of [["--check-config"], []]) {
      const r = run("media", env, argv);
      expect(r.code).toBe(2);
      expect(r.out).toBe("");
      const lines = r.err.trimEnd().split("\n");
      expect(lines[0]).toBe("media: invalid configuration:");
      expect(lines.slice(1)).toEqual([
        expect.stringMatching(
          /^ {2}- CAAS_MONGO_URL="mongodb:\/\/caas:\*\*\*@mongo-1:27017\/\?replicaSett=rs0" is not a MongoDB connection string the driver accepts \(.*replicasett is not supported\)$/,
        ),
        "  - CAAS_S3_SECRET_KEY is required for the media service in cluster mode (the blob store)",
      ]);
      for (const s of Object.values(SECRETS)) expect(r.err).not.toContain(s);
    }
  });

  it("the embedded platform lists every port and refuses cluster mode", () => {
    const r = run("platform", { CAAS_DATA_DIR: "/tmp/caas-check" }, ["--check-config"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^caas: configuration is valid \(embedded mode\)/);
    for (const port of ["CAAS_GATEWAY_PORT=3000", "CAAS_CHAT_PORT=3004", "CAAS_CRYPTO_PORT=3009"]) expect(r.out).toContain(port);
    const cluster = run("platform", mediaEnv, ["--check-config"]);
    expect(cluster.code).toBe(2);
    expect(cluster.err).toContain("CAAS_MODE=cluster: the platform entry point runs embedded mode only");
  });
});
