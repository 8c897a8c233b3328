import { execFile } from "node:child_process";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { caasServices, loadComposeServices, type ComposeCaasService } from "../support/compose-services.js";
import { repoRoot } from "../support/spawn-platform.js";

/**
 * Every CAAS service of docker-compose.yml, started the way its container starts it (the command
 * compose gives it, from the repository root as the image's /app) with exactly the environment
 * compose gives it when .env is .env.example, accepts its configuration. `--check-config` stops
 * after validation, so no backing server is needed.
 */

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runEntryPoint(main: string, env: Record<string, string>, args: string[] = ["--check-config"]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [main, ...args], { cwd: repoRoot, env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

let services: ComposeCaasService[] = [];
/** The secrets .env.example sets, which no output may show. */
let secrets: string[] = [];

beforeAll(async () => {
  const all = await loadComposeServices(join(repoRoot, ".env.example"));
  services = caasServices(all);
  const gateway = services.find((s) => s.name === "gateway")!;
  const media = services.find((s) => s.name === "media")!;
  // (The S3 access key is masked too, but .env.example's equals the bucket name, which is printed.)
  secrets = [gateway.environment.CAAS_ADMIN_TOKEN!, gateway.environment.CAAS_SERVICE_SECRET!, media.environment.CAAS_S3_SECRET_KEY!];
  for (const s of secrets) expect(s.length).toBeGreaterThan(8);
}, 120_000);

describe("docker-compose.yml: every CAAS service accepts the environment compose gives it", () => {
  it("has the ten CAAS processes the deployment declares", () => {
    expect(services.map((s) => s.name)).toEqual(["auth", "chat-1", "chat-2", "compliance", "crypto", "gateway", "media", "search", "socket-1", "socket-2"]);
  });

  it("each entry point, with --check-config, exits 0 and prints its resolved settings with secrets masked", async () => {
    // Two at a time: each is a full Node start-up, and the machine is shared.
    const results: [ComposeCaasService, Run][] = [];
    for (let i = 0; i < services.length; i += 2) {
      const pair = services.slice(i, i + 2);
      results.push(...(await Promise.all(pair.map(async (s) => [s, await runEntryPoint(s.main, s.environment)] as [ComposeCaasService, Run]))));
    }
    for (const [s, r] of results) {
      expect({ service: s.name, code: r.code, stderr: r.stderr }).toEqual({ service: s.name, code: 0, stderr: "" });
      const lines = r.stdout.split("\n");
      expect(lines[0]).toBe(`${s.kind}: configuration is valid (cluster mode); resolved settings, secrets masked:`);
      expect(lines).toContain(`  CAAS_INSTANCE_ID=${s.name}`);
      expect(lines).toContain(`  CAAS_${s.kind.toUpperCase()}_PORT=${s.environment[`CAAS_${s.kind.toUpperCase()}_PORT`]}`);
      expect(lines).toContain(`  CAAS_KAFKA_BROKERS=${s.environment.CAAS_KAFKA_BROKERS}`);
      expect(lines).toContain("  CAAS_ADMIN_TOKEN=***");
      expect(lines).toContain("  CAAS_SERVICE_SECRET=***");
      if (s.environment.CAAS_MONGO_URL) expect(lines).toContain(`  CAAS_MONGO_URL=${s.environment.CAAS_MONGO_URL}`);
      for (const secret of secrets) expect(r.stdout, `${s.name} printed a secret`).not.toContain(secret);
    }
  }, 240_000);

  it("CAAS_CHECK_CONFIG=1 checks without the flag", async () => {
    const chat = services.find((s) => s.name === "chat-2")!;
    const r = await runEntryPoint(chat.main, { ...chat.environment, CAAS_CHECK_CONFIG: "1" }, []);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^chat: configuration is valid \(cluster mode\)/);
  }, 60_000);
});

describe("docker-compose.yml with a bad setting: one line naming the variable, exit 2, secrets masked", () => {
  it("a malformed MongoDB URL", async () => {
    const chat = services.find((s) => s.name === "chat-1")!;
    const password = "compose-mongo-password-never-shown";
    const env = { ...chat.environment, CAAS_MONGO_URL: `mongodb://caas:${password}@mongo-1:27017,mongo-2:27017/?replicaSett=rs0` };
    for (const args of [["--check-config"], []]) {
      const r = await runEntryPoint(chat.main, env, args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      const lines = r.stderr.trimEnd().split("\n");
      expect(lines).toHaveLength(2);
      expect(lines[0]).toBe("chat: invalid configuration:");
      expect(lines[1]).toMatch(/^ {2}- CAAS_MONGO_URL="mongodb:\/\/caas:\*\*\*@mongo-1:27017,mongo-2:27017\/\?replicaSett=rs0" is not a MongoDB connection string the driver accepts/);
      expect(r.stderr).not.toContain(password);
      for (const secret of secrets) expect(r.stderr).not.toContain(secret);
    }
  }, 60_000);

  it("the gateway without Kafka: the two settings every cluster service needs, one line each", async () => {
    const gateway = services.find((s) => s.name === "gateway")!;
    const env = { ...gateway.environment };
    delete env.CAAS_KAFKA_BROKERS;
    delete env.CAAS_SCHEMA_REGISTRY_URL;
    const r = await runEntryPoint(gateway.main, env);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split("\n")).toEqual([
      "gateway: invalid configuration:",
      "  - CAAS_KAFKA_BROKERS is required in cluster mode",
      "  - CAAS_SCHEMA_REGISTRY_URL is required in cluster mode",
    ]);
  }, 60_000);

  it("media without its S3 secret key, and a Redis URL with a password and a bad scheme", async () => {
    const media = services.find((s) => s.name === "media")!;
    const env: Record<string, string> = { ...media.environment, CAAS_REDIS_URL: "http://:compose-redis-password@redis:6379" };
    delete env.CAAS_S3_SECRET_KEY;
    const r = await runEntryPoint(media.main, env);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split("\n")).toEqual([
      "media: invalid configuration:",
      '  - CAAS_REDIS_URL="http://:***@redis:6379" has the scheme http:; expected redis:// or rediss://',
      "  - CAAS_S3_SECRET_KEY is required for the media service in cluster mode (the blob store)",
    ]);
  }, 60_000);
});
