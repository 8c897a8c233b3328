import { once } from "node:events";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { Writable } from "node:stream";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import { Health } from "@caas/gen/grpc/health/v1/health_pb.js";
import { ServerReflection, ServerReflectionRequestSchema } from "@caas/gen/grpc/reflection/v1/reflection_pb.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { startServiceHost, type RunningService } from "../src/server/service-host.js";

/** Lines at warn or above: what an operator is asked to look at. */
const alarming = (lines: Record<string, unknown>[]) => lines.filter((l) => ["warn", "error", "fatal"].includes(l.level as string));

let running: RunningService | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** A service host whose log lines (debug and up) land in `lines`. */
async function start() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const logger = createLogger({ service: "probe", instance: "t", level: "debug", destination });
  running = await startServiceHost({
    definition: { name: "probe", services: [], register: () => {} },
    config: loadConfig({ CAAS_SHUTDOWN_GRACE_MS: "2000" }),
    logger,
    port: 0,
  });
  return { url: running.url, lines };
}

/** The log line of the RPC `rpc`, once it has been written. */
async function rpcLine(lines: Record<string, unknown>[], rpc: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 200; i++) {
    const hit = lines.find((l) => l.rpc === rpc);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no log line for ${rpc}: ${JSON.stringify(lines)}`);
}

const transports: [string, (url: string) => Transport][] = [
  ["gRPC over HTTP/2", (url) => createGrpcTransport({ baseUrl: url })],
  ["gRPC-web over HTTP/1.1", (url) => createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" })],
  ["Connect over HTTP/1.1", (url) => createConnectTransport({ baseUrl: url, httpVersion: "1.1" })],
];

describe("a stream the client ends is a cancellation, logged at debug, not a server error", () => {
  it.each(transports)("server stream (Health.Watch) ended by the client: %s", async (_name, transport) => {
    const { url, lines } = await start();
    const abort = new AbortController();
    const client = createClient(Health, transport(url));
    await expect(
      (async () => {
        for await (const _ of client.watch({ service: "" }, { signal: abort.signal })) abort.abort();
      })(),
    ).rejects.toThrow(/abort/i);
    const line = await rpcLine(lines, "grpc.health.v1.Health/Watch");
    expect(line.level).toBe("debug");
    expect(line.code).toBe("Canceled");
    expect(alarming(lines)).toEqual([]);
  });

  it("bidi stream (server reflection, as grpcurl at -max-time) ended by the client over gRPC", async () => {
    const { url, lines } = await start();
    const abort = new AbortController();
    const client = createClient(ServerReflection, createGrpcTransport({ baseUrl: url }));
    async function* requests() {
      yield { messageRequest: { case: "listServices" as const, value: "" } };
      await new Promise((r) => setTimeout(r, 60_000));
    }
    await expect(
      (async () => {
        for await (const res of client.serverReflectionInfo(requests(), { signal: abort.signal })) {
          expect(res.messageResponse.case).toBe("listServicesResponse");
          abort.abort();
        }
      })(),
    ).rejects.toThrow(/cancel|abort/i);
    // The client's reset may reach the handler as the end of its input (it then returns: OK at
    // info) or as the end of the call (Canceled at debug), by the order Node reports them in;
    // never as a server error.
    const line = await rpcLine(lines, "grpc.reflection.v1.ServerReflection/ServerReflectionInfo");
    expect([`${line.level as string} ${line.code as string}`]).toEqual([expect.stringMatching(/^(debug Canceled|info OK)$/)]);
    expect(alarming(lines)).toEqual([]);
  });

  it("a connection dropped mid-stream (the client process exits) over HTTP/2 and HTTP/1.1", async () => {
    const { url, lines } = await start();
    // HTTP/2: a reflection stream with one request answered, then the TCP connection is cut.
    let tcp: net.Socket | undefined;
    const session = http2.connect(url, { createConnection: () => (tcp = net.connect(new URL(url).port ? Number(new URL(url).port) : 80, "127.0.0.1")) });
    const stream = session.request({ ":method": "POST", ":path": "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "content-type": "application/grpc", te: "trailers" });
    const req = toBinary(ServerReflectionRequestSchema, create(ServerReflectionRequestSchema, { messageRequest: { case: "listServices", value: "" } }));
    const frame = Buffer.alloc(5 + req.length);
    frame.writeUInt32BE(req.length, 1);
    frame.set(req, 5);
    stream.write(frame);
    await once(stream, "data");
    tcp!.destroy();
    // HTTP/1.1: a gRPC-web Health.Watch whose socket is cut after the first message.
    const h1 = http.request(`${url}/grpc.health.v1.Health/Watch`, { method: "POST", headers: { "content-type": "application/grpc-web+proto" } });
    h1.end(Buffer.from([0, 0, 0, 0, 0]));
    const [res] = (await once(h1, "response")) as [http.IncomingMessage];
    await once(res, "data");
    h1.destroy();
    for (const rpc of ["grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "grpc.health.v1.Health/Watch"]) {
      const line = await rpcLine(lines, rpc);
      expect(line.level, rpc).toBe("debug");
      expect(line.code, rpc).toBe("Canceled");
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(alarming(lines)).toEqual([]);
  });

  it("a stream that ends normally, and a unary call, are still logged at info with code OK", async () => {
    const { url, lines } = await start();
    const client = createClient(ServerReflection, createGrpcTransport({ baseUrl: url }));
    async function* one() {
      yield { messageRequest: { case: "listServices" as const, value: "" } };
    }
    const answers = [];
    for await (const res of client.serverReflectionInfo(one())) answers.push(res.messageResponse.case);
    expect(answers).toEqual(["listServicesResponse"]);
    // A unary call over HTTP/1.1.
    expect((await createClient(Health, createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" })).check({ service: "" })).status).toBe(1);
    for (const rpc of ["grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "grpc.health.v1.Health/Check"]) {
      const line = await rpcLine(lines, rpc);
      expect(line.level, rpc).toBe("info");
      expect(line.code, rpc).toBe("OK");
    }
  });
});
