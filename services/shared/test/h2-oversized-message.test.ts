import http2 from "node:http2";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { startServiceHost, type RunningService } from "../src/server/service-host.js";

let running: RunningService | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** A gRPC length-prefixed message of `size` filler bytes. */
function grpcFrame(size: number): Buffer {
  const frame = Buffer.alloc(5 + size, 0x41);
  frame[0] = 0;
  frame.writeUInt32BE(size, 1);
  return frame;
}

interface Outcome {
  status?: string;
  rstCode?: number;
  closed: boolean;
}

/** One gRPC Health/Check on `session` with `body`: the grpc-status, the stream's reset code, and whether it closed within 10 s. */
function call(session: http2.ClientHttp2Session, body: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const stream = session.request({ ":method": "POST", ":path": "/grpc.health.v1.Health/Check", "content-type": "application/grpc", te: "trailers" });
    let status: string | undefined;
    const timer = setTimeout(() => {
      resolve({ status, closed: false });
      stream.destroy();
    }, 10_000);
    stream.on("response", (h) => (status ??= h["grpc-status"] as string | undefined));
    stream.on("trailers", (t: http2.IncomingHttpHeaders) => (status ??= t["grpc-status"] as string | undefined));
    stream.on("data", () => {});
    stream.on("error", () => {});
    stream.on("close", () => {
      clearTimeout(timer);
      resolve({ status, rstCode: stream.rstCode, closed: true });
    });
    stream.end(body);
  });
}

describe("HTTP/2 connection after an oversized gRPC message", () => {
  it.each([5, 12, 24])("ends only the offending stream (%i MiB) and later streams on the same connection succeed", async (mib) => {
    const config = loadConfig({ CAAS_SHUTDOWN_GRACE_MS: "500" });
    const logger = createLogger({ service: "probe", instance: "t", level: "silent" });
    running = await startServiceHost({ definition: { name: "probe", services: [], register: () => {} }, config, logger, port: 0 });
    // The client must be able to hold the message it sends: with Node's default 10 MB session
    // memory a Node client refuses its own streams (RST_STREAM 11 sent by the client).
    const session = http2.connect(running.url, { maxSessionMemory: 64 });
    let goaway = false;
    session.on("goaway", () => (goaway = true));
    session.on("error", () => {});
    try {
      // RESOURCE_EXHAUSTED in the trailers, then RST_STREAM NO_ERROR so the client stops sending the rest.
      expect(await call(session, grpcFrame(mib * 1024 * 1024))).toEqual({ status: "8", rstCode: http2.constants.NGHTTP2_NO_ERROR, closed: true });
      for (let i = 0; i < 3; i++) expect(await call(session, grpcFrame(0))).toEqual({ status: "0", rstCode: http2.constants.NGHTTP2_NO_ERROR, closed: true });
      expect(goaway).toBe(false);
    } finally {
      session.destroy();
    }
  });
});
