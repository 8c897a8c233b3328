import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";
import { bucketOf, DEFAULT_RATE_LIMITS, DEFAULT_TENANT_RATE_FACTOR, parseRateLimits, tenantRule } from "../src/rate-limits.js";

describe("CAAS_RATE_LIMITS", () => {
  it("keeps the issue's defaults when unset", () => {
    const { perUser, problems } = parseRateLimits(undefined);
    expect(problems).toEqual([]);
    expect(perUser.upload).toEqual({ limit: 10, windowMs: 60_000 });
    expect(perUser.download).toEqual({ limit: 100, windowMs: 60_000 });
    expect(perUser.delete).toEqual({ limit: 20, windowMs: 60_000 });
    expect(perUser.search).toEqual({ limit: 30, windowMs: 60_000 });
    // Sends and typing are per-second rates: a burst, then N a second.
    expect(bucketOf(perUser["message.send"])).toEqual({ capacity: 20, refillPerSec: 10 });
    expect(bucketOf(perUser.typing)).toEqual({ capacity: 5, refillPerSec: 1 });
  });

  it("parses the compact form; actions left out keep their defaults", () => {
    const { perUser, problems } = parseRateLimits("message.send=10/s, search=30/min,upload=5/10min,default=1000/h,typing=3/500ms");
    expect(problems).toEqual([]);
    expect(perUser["message.send"]).toEqual({ limit: 10, windowMs: 1_000 });
    expect(perUser.search).toEqual({ limit: 30, windowMs: 60_000 });
    expect(perUser.upload).toEqual({ limit: 5, windowMs: 600_000 });
    expect(perUser.default).toEqual({ limit: 1000, windowMs: 3_600_000 });
    expect(perUser.typing).toEqual({ limit: 3, windowMs: 500 });
    expect(perUser.delete).toEqual(DEFAULT_RATE_LIMITS.delete);
  });

  it.each([
    ["sned=10/s", /unknown action sned/],
    ["search=30", /not action=N\/unit/],
    ["search=30/fortnight", /not action=N\/unit/],
    ["search=0/min", /count must be 1\.\.1000000/],
    ["search=-1/min", /not action=N\/unit/],
    ["search=1/0s", /window must be/],
    ["search=1/min,search=2/min", /repeats search/],
    ["search=1/min,", /not action=N\/unit/],
  ])("refuses %s", (raw, message) => {
    expect(parseRateLimits(raw).problems.join("\n")).toMatch(message);
  });

  it("is validated by loadConfig: an unknown action is a start-up error", () => {
    expect(() => loadConfig({ CAAS_RATE_LIMITS: "message.send=10/s,uplaod=5/min" })).toThrow(ConfigError);
    expect(() => loadConfig({ CAAS_RATE_LIMITS: "uplaod=5/min" })).toThrow(/unknown action uplaod/);
    expect(() => loadConfig({ CAAS_RATE_LIMIT_TENANT_FACTOR: "0" })).toThrow(/CAAS_RATE_LIMIT_TENANT_FACTOR=0 is outside/);
    const c = loadConfig({ CAAS_RATE_LIMITS: "search=3/min", CAAS_RATE_LIMIT_TENANT_FACTOR: "7" });
    expect(c.rateLimits.perUser.search).toEqual({ limit: 3, windowMs: 60_000 });
    expect(c.rateLimits.tenantFactor).toBe(7);
    expect(loadConfig({}).rateLimits.tenantFactor).toBe(DEFAULT_TENANT_RATE_FACTOR);
  });

  it("derives the tenant bucket as the user bucket times the factor", () => {
    expect(tenantRule({ limit: 30, windowMs: 60_000 }, 100)).toEqual({ limit: 3000, windowMs: 60_000 });
  });
});

describe("other settings read through the validated config", () => {
  it("CAAS_SERVICE_SECRET: at least 32 characters, carried in the config", () => {
    expect(() => loadConfig({ CAAS_SERVICE_SECRET: "short" })).toThrow(/CAAS_SERVICE_SECRET must be at least 32 characters/);
    expect(loadConfig({ CAAS_SERVICE_SECRET: "x".repeat(32) }).serviceSecret).toBe("x".repeat(32));
    expect(loadConfig({}).serviceSecret).toBeUndefined();
  });

  it("CAAS_REDIS_<PURPOSE>_URL: validated URLs in the cluster endpoints", () => {
    const c = loadConfig({ CAAS_REDIS_SOCKET_URL: "redis://socket:6379", CAAS_REDIS_GATEWAY_URL: "redis://gw:6379" });
    expect(c.cluster.redisSocketUrl).toBe("redis://socket:6379");
    expect(c.cluster.redisGatewayUrl).toBe("redis://gw:6379");
    expect(() => loadConfig({ CAAS_REDIS_SOCKET_URL: "not a url" })).toThrow(/CAAS_REDIS_SOCKET_URL="not a url" is not a URL/);
  });
});
