import http from "node:http";
import type { AddressInfo } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { endStreamFlag, endStreamFromJson } from "@connectrpc/connect/protocol-connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RetryInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { ResourceExhaustedError, toConnectError } from "../src/errors.js";
import { answerWithError, rpcRequestHead } from "../src/server/early-error.js";

/** A request as the listener hands it over, headers only. */
const head = (method: string, headers: Record<string, string>, httpVersionMajor = 1) => rpcRequestHead({ method, headers, httpVersionMajor } as unknown as http.IncomingMessage);

describe("early error answers: the request's protocol from its headers", () => {
  it("reads each protocol, its codec and the caller's deadline", () => {
    expect(head("POST", { "content-type": "application/grpc", "grpc-timeout": "1500m" }, 2)).toEqual({ protocol: "grpc", binary: true, timeoutMs: 1500 });
    expect(head("POST", { "content-type": "application/grpc+json" }, 2)).toEqual({ protocol: "grpc", binary: false, timeoutMs: undefined });
    expect(head("POST", { "content-type": "application/grpc-web+proto", "grpc-timeout": "2S" })).toEqual({ protocol: "grpc-web", binary: true, timeoutMs: 2000 });
    expect(head("POST", { "content-type": "application/grpc-web-text" })).toEqual({ protocol: "grpc-web-text", binary: true, timeoutMs: undefined });
    expect(head("POST", { "content-type": "application/json", "connect-timeout-ms": "250" })).toEqual({ protocol: "connect-unary", binary: false, timeoutMs: 250 });
    expect(head("POST", { "content-type": "application/connect+proto" })).toEqual({ protocol: "connect-stream", binary: true, timeoutMs: undefined });
  });

  it("leaves to the RPC stack what it would not serve as such: GET, gRPC over HTTP/1.1, grpc-web-text with JSON, unknown types, malformed timeouts", () => {
    expect(head("GET", { "content-type": "application/json" })).toBeUndefined();
    expect(head("POST", { "content-type": "application/grpc" }, 1)).toBeUndefined();
    expect(head("POST", { "content-type": "application/grpc-web-text+json" })).toBeUndefined();
    expect(head("POST", { "content-type": "text/plain" })).toBeUndefined();
    expect(head("POST", {})).toBeUndefined();
    expect(head("POST", { "content-type": "application/json", "connect-timeout-ms": "soon" })).toBeUndefined();
    expect(head("POST", { "content-type": "application/grpc", "grpc-timeout": "1x" }, 2)).toBeUndefined();
  });
});

describe("early error answers: a Connect stream", () => {
  let server: http.Server;
  let url = "";
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const h = rpcRequestHead(req);
      if (!h) {
        res.writeHead(400);
        res.end();
        return;
      }
      answerWithError(req, res, h, toConnectError(new ResourceExhaustedError("busy: retry later", 1_500)));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("answers HTTP 200 with one end-of-stream message carrying the error and its RetryInfo", async () => {
    const res = await fetch(`${url}/pkg.Service/Upload`, { method: "POST", headers: { "content-type": "application/connect+proto" }, body: new Uint8Array(5) });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/connect+proto");
    const body = new Uint8Array(await res.arrayBuffer());
    expect(body[0]).toBe(endStreamFlag);
    const length = new DataView(body.buffer).getUint32(1);
    expect(body.byteLength).toBe(5 + length);
    const end = endStreamFromJson(body.subarray(5));
    expect(end.error?.code).toBe(Code.ResourceExhausted);
    expect(end.error?.rawMessage).toBe("busy: retry later");
    const delay = (end.error as ConnectError).findDetails(RetryInfoSchema)[0]?.retryDelay;
    expect(Number(delay?.seconds) * 1000 + (delay?.nanos ?? 0) / 1e6).toBe(1_500);
  });
});
