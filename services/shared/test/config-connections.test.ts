import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";
import { AddressLimit } from "../src/server/address-limit.js";

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    return (err as ConfigError).problems;
  }
}

describe("connection limit settings", () => {
  it("defaults: 10 s headers, 300 s request, 32 KiB headers, 1000 streams, a listen backlog of 4096, 1024 connections per address, loopback exempt, 4 MiB WebSocket buffer, 512 calls outstanding per owner at the gateway and a 2 s wait behind them (500 ms while it is refusing calls)", () => {
    expect(loadConfig({}).connections).toEqual({
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 300_000,
      maxHeaderBytes: 32 * 1024,
      maxConcurrentStreams: 1000,
      listenBacklog: 4096,
      maxConnectionsPerAddress: 1024,
      exemptAddresses: ["127.0.0.1/8", "::1"],
      wsMaxBufferedBytes: 4 * 1024 * 1024,
      gatewayMaxOutstanding: 512,
      gatewayTargetWaitMs: 2_000,
      gatewayOverloadedWaitMs: 500,
    });
    expect(loadConfig({ CAAS_CONNECTION_LIMIT_EXEMPT: "none" }).connections.exemptAddresses).toEqual([]);
  });

  it("names every bad value", () => {
    expect(problemsOf({ CAAS_CONNECTION_LIMIT_EXEMPT: "10.0.0.0/8,10.0.0.0/33,proxy.local,::1/129" })).toEqual([
      'CAAS_CONNECTION_LIMIT_EXEMPT has an entry "10.0.0.0/33" that is not an IP address or CIDR range (e.g. 10.0.0.0/8)',
      'CAAS_CONNECTION_LIMIT_EXEMPT has an entry "proxy.local" that is not an IP address or CIDR range (e.g. 10.0.0.0/8)',
      'CAAS_CONNECTION_LIMIT_EXEMPT has an entry "::1/129" that is not an IP address or CIDR range (e.g. 10.0.0.0/8)',
    ]);
    expect(problemsOf({ CAAS_HTTP_HEADERS_TIMEOUT_MS: "5000", CAAS_HTTP_REQUEST_TIMEOUT_MS: "1000" })).toEqual([
      "CAAS_HTTP_REQUEST_TIMEOUT_MS=1000 must not be below CAAS_HTTP_HEADERS_TIMEOUT_MS=5000",
    ]);
    expect(problemsOf({ CAAS_HTTP_MAX_HEADER_BYTES: "262144" })).toEqual(["CAAS_HTTP_MAX_HEADER_BYTES=262144 is outside 1024..131072"]);
    expect(problemsOf({ CAAS_GATEWAY_OVERLOADED_WAIT_MS: "5" })).toEqual(["CAAS_GATEWAY_OVERLOADED_WAIT_MS=5 is outside 10..600000"]);
  });
});

describe("the per-address count", () => {
  it("counts each address on its own, skips exempt ranges, and admits again after a release", () => {
    const limit = new AddressLimit(2, ["10.0.0.0/8", "::1"]);
    expect([limit.admit("192.0.2.1"), limit.admit("192.0.2.1"), limit.admit("192.0.2.1")]).toEqual([true, true, false]);
    expect(limit.admit("192.0.2.2")).toBe(true);
    for (let i = 0; i < 5; i++) expect(limit.admit("10.1.2.3") && limit.admit("::1")).toBe(true);
    expect(limit.count("10.1.2.3")).toBe(0);
    limit.release("192.0.2.1");
    expect(limit.admit("192.0.2.1")).toBe(true);
    expect(new AddressLimit(0, []).admit("192.0.2.1")).toBe(true);
  });
});
