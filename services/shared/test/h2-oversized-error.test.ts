import http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { headerGrpcMessage, headerGrpcStatus, headerStatusDetailsBin, findTrailerError, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { afterEach, describe, expect, it } from "vitest";
import { create, toBinary } from "@bufbuild/protobuf";
import { HealthCheckRequestSchema } from "@caas/gen/grpc/health/v1/health_pb.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { boundGrpcStatus, MAX_ERROR_MESSAGE_BYTES, MAX_STATUS_DETAILS_BYTES } from "../src/server/error-metadata-bound.js";
import { startServiceHost, type RunningService } from "../src/server/service-host.js";

let running: RunningService | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** A gRPC length-prefixed Health/Check request for `service`. */
function checkFrame(service: string): Buffer {
  const message = toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service }));
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

interface Outcome {
  status?: string;
  message?: string;
  rstCode?: number;
}

/** One gRPC Health/Check on `session`: its grpc-status and grpc-message and the stream's reset code. */
function check(session: http2.ClientHttp2Session, service: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const stream = session.request({ ":method": "POST", ":path": "/grpc.health.v1.Health/Check", "content-type": "application/grpc", te: "trailers" });
    const out: Outcome = {};
    const take = (h: http2.IncomingHttpHeaders) => {
      out.status ??= h["grpc-status"] as string | undefined;
      out.message ??= h["grpc-message"] as string | undefined;
    };
    stream.on("response", take);
    stream.on("trailers", take);
    stream.on("data", () => {});
    stream.on("error", () => {});
    stream.on("close", () => resolve({ ...out, rstCode: stream.rstCode }));
    stream.end(checkFrame(service));
  });
}

describe("gRPC error metadata larger than an HTTP/2 header block may be", () => {
  it("a 70 kB unknown service name gets NOT_FOUND with a cut message, and the connection keeps serving its other streams", async () => {
    const config = loadConfig({ CAAS_SHUTDOWN_GRACE_MS: "500" });
    const logger = createLogger({ service: "probe", instance: "t", level: "silent" });
    running = await startServiceHost({ definition: { name: "probe", services: [], register: () => {} }, config, logger, port: 0 });
    const session = http2.connect(running.url);
    let goaway: number | undefined;
    session.on("goaway", (code: number) => {
      goaway = code;
    });
    session.on("error", () => {});
    try {
      // Before the bound: the trailers (a 70 kB grpc-message) could not be sent, the stream ended
      // with FRAME_SIZE_ERROR and Node closed the session (GOAWAY), refusing the calls after it.
      const [big, ...others] = await Promise.all([check(session, "x".repeat(70_000)), check(session, ""), check(session, "")]);
      const later = await check(session, "");
      expect({ later, goaway }).toEqual({ later: { status: "0", message: undefined, rstCode: http2.constants.NGHTTP2_NO_ERROR }, goaway: undefined });
      expect(others).toEqual([later, later]);
      expect(big.status).toBe(String(Code.NotFound));
      expect(big.message!.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_BYTES);
      expect(decodeURIComponent(big.message!)).toMatch(/^unknown service x+… \(70016 characters in all\)$/);
    } finally {
      session.destroy();
    }
  });

  it("cuts a long message on a code point boundary and keeps details that fit, with the cut message", () => {
    const h = new Headers();
    setTrailerStatus(h, new ConnectError("é😀".repeat(2_000), Code.InvalidArgument, undefined, [{ desc: HealthCheckRequestSchema, value: { service: "detail" } }]));
    boundGrpcStatus(h);
    expect(h.get(headerGrpcStatus)).toBe(String(Code.InvalidArgument));
    expect(h.get(headerGrpcMessage)!.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_BYTES);
    const found = findTrailerError(h)!;
    expect(found.rawMessage).toMatch(/^(é😀)+(é)?… \(6000 characters in all\)$/);
    expect(found.details).toHaveLength(1);
  });

  it("keeps details within the bound whole, next to a cut message", () => {
    const h = new Headers();
    const service = "v".repeat(MAX_STATUS_DETAILS_BYTES / 2);
    setTrailerStatus(h, new ConnectError("m".repeat(5_000), Code.InvalidArgument, undefined, [{ desc: HealthCheckRequestSchema, value: { service } }]));
    boundGrpcStatus(h);
    const found = findTrailerError(h)!;
    expect(found.rawMessage).toMatch(/^m+… \(5000 characters in all\)$/);
    expect(found.findDetails(HealthCheckRequestSchema).map((d) => d.service)).toEqual([service]);
  });

  it("leaves out details too large to send, keeping the code and the message", () => {
    const h = new Headers();
    setTrailerStatus(h, new ConnectError("bad request", Code.InvalidArgument, undefined, [{ desc: HealthCheckRequestSchema, value: { service: "d".repeat(MAX_STATUS_DETAILS_BYTES) } }]));
    boundGrpcStatus(h);
    expect(h.has(headerStatusDetailsBin)).toBe(false);
    expect([h.get(headerGrpcStatus), h.get(headerGrpcMessage)]).toEqual([String(Code.InvalidArgument), "bad%20request"]);
  });

  it("leaves metadata within its bounds untouched", () => {
    const h = new Headers();
    setTrailerStatus(h, new ConnectError("unknown service a b", Code.NotFound));
    const before = [...h.entries()];
    boundGrpcStatus(h);
    expect([...h.entries()]).toEqual(before);
  });
});
