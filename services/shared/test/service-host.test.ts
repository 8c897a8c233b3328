import { Writable } from "node:stream";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as S } from "@caas/gen/grpc/health/v1/health_pb.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { startServiceHost, type RunningService } from "../src/server/service-host.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, stream };
}

let running: RunningService | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function start(env: Record<string, string> = {}) {
  const config = loadConfig({ CAAS_SHUTDOWN_GRACE_MS: "2000", ...env });
  const { lines, stream } = capture();
  const logger = createLogger({ service: "probe", instance: "t", level: "info", destination: stream });
  running = await startServiceHost({
    definition: { name: "probe", services: [], register: () => {} },
    config,
    logger,
    port: 0,
  });
  return { running, lines };
}

describe("service host", () => {
  it("serves HTTP/2 and HTTP/1.1 protocols on one port", async () => {
    const { running } = await start();
    const transports = [
      createGrpcTransport({ baseUrl: running.url }),
      createConnectTransport({ baseUrl: running.url, httpVersion: "2" }),
      createConnectTransport({ baseUrl: running.url, httpVersion: "1.1" }),
      createGrpcWebTransport({ baseUrl: running.url, httpVersion: "1.1" }),
    ];
    for (const t of transports) {
      const res = await createClient(Health, t).check({ service: "" });
      expect(res.status).toBe(S.SERVING);
    }
    expect((await fetch(`${running.url}/health`)).status).toBe(200);
  });

  it("holds more than ten calls in progress without a listener-leak warning (each links to the shutdown signal)", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on("warning", onWarning);
    try {
      const { running } = await start();
      const client = createClient(Health, createGrpcTransport({ baseUrl: running.url }));
      // One controller per call: the test's own signals must not be what warns.
      const stops = Array.from({ length: 15 }, () => new AbortController());
      const watches = stops.map(async (stop) => {
        try {
          for await (const _ of client.watch({ service: "" }, { signal: stop.signal })) void _;
        } catch {
          // cancelled below
        }
      });
      await new Promise((r) => setTimeout(r, 300));
      for (const stop of stops) stop.abort();
      await Promise.all(watches);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings.filter((w) => w.startsWith("MaxListenersExceededWarning"))).toEqual([]);
  });

  it("lists every served service in health List", async () => {
    const { running } = await start();
    const res = await createClient(Health, createGrpcTransport({ baseUrl: running.url })).list({});
    expect(Object.keys(res.statuses)).toEqual([""]);
  });

  it("drains on close: watchers see NOT_SERVING, then the stream ends, then the port closes", async () => {
    const { running } = await start();
    const client = createClient(Health, createGrpcTransport({ baseUrl: running.url }));
    const seen: S[] = [];
    const watching = (async () => {
      try {
        for await (const r of client.watch({ service: "" })) seen.push(r.status);
      } catch {
        // the server ends the stream when it stops; what matters is what was seen before
      }
    })();
    while (seen.length === 0) await new Promise((r) => setTimeout(r, 10));
    const started = Date.now();
    await running.close();
    await watching;
    expect(seen).toEqual([S.SERVING, S.NOT_SERVING]);
    expect(Date.now() - started).toBeLessThan(2_500);
    await expect(fetch(`${running.url}/health`)).rejects.toThrow();
  });

  it("logs one line per RPC with the correlation id the caller sent", async () => {
    const { running, lines } = await start();
    const client = createClient(Health, createConnectTransport({ baseUrl: running.url, httpVersion: "1.1" }));
    let echoed: string | null = null;
    await client.check({ service: "" }, { headers: { "x-correlation-id": "unit-corr-1" }, onHeader: (h) => (echoed = h.get("x-correlation-id")) });
    expect(echoed).toBe("unit-corr-1");
    await new Promise((r) => setTimeout(r, 20));
    expect(lines.find((l) => l.correlationId === "unit-corr-1")).toMatchObject({
      service: "probe",
      rpc: "grpc.health.v1.Health/Check",
      code: "OK",
      protocol: "connect",
    });
  });

  it("binds 127.0.0.1 in embedded mode", async () => {
    const { running } = await start();
    expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(running.port).toBeGreaterThan(0);
  });

  it("hands start() its bound URL and serves prefix routes for any method, exact routes and RPCs first", async () => {
    const config = loadConfig({ CAAS_SHUTDOWN_GRACE_MS: "2000" });
    const logger = createLogger({ service: "probe", instance: "t", level: "silent" });
    let bound: { url: string; port: number } | undefined;
    running = await startServiceHost({
      definition: {
        name: "probe",
        services: [],
        register: () => {},
        httpPrefixRoutes: {
          "/files/": (req, res) => {
            res.writeHead(200, { "content-type": "text/plain" });
            res.end(`${req.method} ${req.url}`);
          },
        },
        start: async (b) => {
          bound = b;
        },
      },
      config,
      logger,
      port: 0,
    });
    expect(bound).toEqual({ url: running.url, port: running.port });
    const post = await fetch(`${running.url}/files/a/b?x=1`, { method: "POST", body: "data" });
    expect(await post.text()).toBe("POST /files/a/b?x=1");
    expect((await fetch(`${running.url}/health`)).headers.get("content-type")).toBe("application/json");
    expect((await fetch(`${running.url}/other`, { method: "POST" })).status).toBe(404);
  });
});
