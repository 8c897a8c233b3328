import { ConfigError, loadConfig } from "@caas/shared/config";
import { describe, expect, it } from "vitest";

describe("media configuration", () => {
  it("defaults to 100 MiB uploads, no public URL and a sweep every minute", () => {
    const config = loadConfig({});
    expect(config.media).toEqual({ maxUploadBytes: 100 * 1024 * 1024, sweepIntervalMs: 60_000 });
  });

  it("reads CAAS_MEDIA_MAX_BYTES, CAAS_MEDIA_PUBLIC_URL and CAAS_MEDIA_SWEEP_INTERVAL_MS (0 turns the sweeper off)", () => {
    const config = loadConfig({ CAAS_MEDIA_MAX_BYTES: "1048576", CAAS_MEDIA_PUBLIC_URL: "https://chat.example.com/blobs/", CAAS_MEDIA_SWEEP_INTERVAL_MS: "300000" });
    expect(config.media).toEqual({ maxUploadBytes: 1048576, publicUrl: "https://chat.example.com/blobs", sweepIntervalMs: 300_000 });
    expect(loadConfig({ CAAS_MEDIA_SWEEP_INTERVAL_MS: "0" }).media.sweepIntervalMs).toBe(0);
  });

  it("refuses a size out of range and a public URL whose path is not /blobs", () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (err) {
        return (err as ConfigError).problems.join("\n");
      }
      return "";
    };
    expect(problems({ CAAS_MEDIA_MAX_BYTES: "0" })).toMatch(/CAAS_MEDIA_MAX_BYTES=0 is outside/);
    expect(problems({ CAAS_MEDIA_MAX_BYTES: "10MB" })).toMatch(/CAAS_MEDIA_MAX_BYTES="10MB" is not a whole number/);
    expect(problems({ CAAS_MEDIA_MAX_BYTES: String(6 * 1024 ** 3) })).toMatch(/outside/);
    expect(problems({ CAAS_MEDIA_PUBLIC_URL: "https://chat.example.com/files" })).toMatch(/CAAS_MEDIA_PUBLIC_URL=.*path is \/blobs/);
    expect(problems({ CAAS_MEDIA_PUBLIC_URL: "ftp://x/blobs" })).toMatch(/CAAS_MEDIA_PUBLIC_URL/);
    expect(problems({ CAAS_MEDIA_SWEEP_INTERVAL_MS: "500" })).toMatch(/CAAS_MEDIA_SWEEP_INTERVAL_MS=500 must be 0 \(no sweeper\) or at least 1000/);
    expect(problems({ CAAS_MEDIA_SWEEP_INTERVAL_MS: "-1" })).toMatch(/CAAS_MEDIA_SWEEP_INTERVAL_MS="-1" is not a whole number/);
    expect(problems({ CAAS_MEDIA_SWEEP_INTERVAL_MS: "1m" })).toMatch(/CAAS_MEDIA_SWEEP_INTERVAL_MS="1m" is not a whole number/);
    expect(problems({ CAAS_MEDIA_SWEEP_INTERVAL_MS: String(86_400_001) })).toMatch(/outside/);
  });
});
