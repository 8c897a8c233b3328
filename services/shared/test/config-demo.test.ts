import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

describe("CAAS_DEMO", () => {
  it("is off by default, on with 1, and refused in cluster mode", () => {
    expect(loadConfig({}).demo).toBe(false);
    expect(loadConfig({ CAAS_DEMO: "1" }).demo).toBe(true);
    const cluster = { CAAS_MODE: "cluster", CAAS_KAFKA_BROKERS: "127.0.0.1:9092", CAAS_SCHEMA_REGISTRY_URL: "http://127.0.0.1:8081" };
    expect(loadConfig(cluster).demo).toBe(false);
    let problems: string[] = [];
    try {
      loadConfig({ ...cluster, CAAS_DEMO: "1" });
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      problems = e.problems;
    }
    expect(problems).toEqual(["CAAS_DEMO=1 is for embedded mode only (the demo hands out its users' tokens to any visitor)"]);
  });
});
