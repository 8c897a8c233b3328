import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULT_PORTS, loadConfig } from "../src/config.js";

describe("loadConfig", () => {
  it("defaults to embedded mode on loopback with the documented ports", () => {
    const c = loadConfig({});
    expect(c.mode).toBe("embedded");
    expect(c.host).toBe("127.0.0.1");
    expect(c.ports).toEqual(DEFAULT_PORTS);
    expect(c.limits.readMaxBytes).toBe(4 * 1024 * 1024);
    expect(c.peers.chat).toEqual([]);
    expect(c.eventLogSync).toBe("full");
  });

  it("reads how the embedded event log syncs its commits, and refuses other values", () => {
    expect(loadConfig({ CAAS_EVENT_LOG_SYNC: "normal" }).eventLogSync).toBe("normal");
    expect(() => loadConfig({ CAAS_EVENT_LOG_SYNC: "off" })).toThrow(/CAAS_EVENT_LOG_SYNC="off" must be "full" or "normal"/);
  });

  it("binds all interfaces in cluster mode and reads peer lists", () => {
    const c = loadConfig({
      CAAS_MODE: "cluster",
      CAAS_CHAT_URL: "http://chat-1:3004, http://chat-2:3004/",
      CAAS_KAFKA_BROKERS: "k1:9092,k2:9092",
      CAAS_SCHEMA_REGISTRY_URL: "http://registry:8081",
      CAAS_CHAT_PORT: "0",
    });
    expect(c.host).toBe("0.0.0.0");
    expect(c.peers.chat).toEqual(["http://chat-1:3004", "http://chat-2:3004"]);
    expect(c.cluster.kafkaBrokers).toEqual(["k1:9092", "k2:9092"]);
    expect(c.ports.chat).toBe(0);
  });

  it("reports every problem at once, including unknown CAAS_ variables", () => {
    let err: unknown;
    try {
      loadConfig({
        CAAS_MODE: "galaxy",
        CAAS_CHAT_PORT: "70000",
        CAAS_AUTH_PORT: "abc",
        CAAS_LOG_LEVEL: "loud",
        CAAS_GATEWAY_URL: "ftp://x",
        CAAS_MONGO_URL: "not a url",
        CAAS_CAHT_PORT: "1",
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join("\n");
    expect(problems).toMatch(/CAAS_MODE="galaxy"/);
    expect(problems).toMatch(/CAAS_CHAT_PORT=70000 is outside 0..65535/);
    expect(problems).toMatch(/CAAS_AUTH_PORT="abc" is not a whole number/);
    expect(problems).toMatch(/CAAS_LOG_LEVEL=loud/);
    expect(problems).toMatch(/CAAS_GATEWAY_URL/);
    expect(problems).toMatch(/CAAS_MONGO_URL/);
    expect(problems).toMatch(/CAAS_CAHT_PORT is not a known setting/);
    expect((err as ConfigError).problems).toHaveLength(7);
  });

  it("requires the event bus servers in cluster mode", () => {
    expect(() => loadConfig({ CAAS_MODE: "cluster" })).toThrow(/CAAS_KAFKA_BROKERS is required[\s\S]*CAAS_SCHEMA_REGISTRY_URL is required/);
  });

  it("ignores tooling variables", () => {
    expect(() => loadConfig({ CAAS_REQUIRE_INFRA: "1", CAAS_TEST_RUN_ID: "x", CAAS_INFRA_HOME: "/tmp" })).not.toThrow();
  });
});

describe("settings once read outside the validated config", () => {
  it("CAAS_ADMIN_TOKEN: carried in the config when valid, refused at start when short or spaced", () => {
    const token = "a".repeat(64);
    expect(loadConfig({ CAAS_ADMIN_TOKEN: ` ${token} ` }).adminToken).toBe(token);
    expect(loadConfig({}).adminToken).toBeUndefined();
    expect(loadConfig({ CAAS_ADMIN_TOKEN: "   " }).adminToken).toBeUndefined();
    expect(() => loadConfig({ CAAS_ADMIN_TOKEN: "changeme" })).toThrow(/CAAS_ADMIN_TOKEN must be at least 32 characters \(e\.g\. openssl rand -hex 32\)/);
    expect(() => loadConfig({ CAAS_ADMIN_TOKEN: `${"a".repeat(20)} ${"b".repeat(20)}` })).toThrow(/CAAS_ADMIN_TOKEN must not contain whitespace/);
    // Every problem is reported at once, with the others.
    const err = (() => {
      try {
        loadConfig({ CAAS_ADMIN_TOKEN: "short", CAAS_REDIS_SOCKET_URL: "nope" });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual(['CAAS_REDIS_SOCKET_URL="nope" is not a URL', "CAAS_ADMIN_TOKEN must be at least 32 characters (e.g. openssl rand -hex 32)"]);
  });

  it("every CAAS_REDIS_*_URL must be redis:// or rediss://", () => {
    for (const name of ["CAAS_REDIS_URL", "CAAS_REDIS_GATEWAY_URL", "CAAS_REDIS_COMPLIANCE_URL", "CAAS_REDIS_CRYPTO_URL"]) {
      expect(() => loadConfig({ [name]: "http://cache:6379" })).toThrow(`${name}="http://cache:6379" has the scheme http:; expected redis:// or rediss://`);
    }
    expect(loadConfig({ CAAS_REDIS_URL: "redis://cache:6379/2" }).cluster.redisUrl).toBe("redis://cache:6379/2");
  });

  it("CAAS_REDIS_SOCKET_URL: a redis:// or rediss:// URL, else a clear start-up error", () => {
    expect(loadConfig({ CAAS_REDIS_SOCKET_URL: "rediss://socket:6380" }).cluster.redisSocketUrl).toBe("rediss://socket:6380");
    expect(loadConfig({}).cluster.redisSocketUrl).toBeUndefined();
    expect(() => loadConfig({ CAAS_REDIS_SOCKET_URL: "http://socket:6379" })).toThrow('CAAS_REDIS_SOCKET_URL="http://socket:6379" has the scheme http:; expected redis:// or rediss://');
    expect(() => loadConfig({ CAAS_REDIS_SOCKET_URL: "redis socket" })).toThrow(/CAAS_REDIS_SOCKET_URL="redis socket" is not a URL/);
  });
});
