import http from "node:http";
import { once } from "node:events";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthCheckRequestSchema, HealthCheckResponseSchema, HealthCheckResponse_ServingStatus as S } from "@caas/gen/grpc/health/v1/health_pb.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { startServiceHost, type RunningService } from "../src/server/service-host.js";

let running: RunningService;
beforeAll(async () => {
  running = await startServiceHost({
    definition: { name: "probe", services: [], register: () => {} },
    config: loadConfig({ CAAS_SHUTDOWN_GRACE_MS: "1000" }),
    logger: createLogger({ service: "probe", instance: "t", level: "silent" }),
    port: 0,
  });
});
afterAll(() => running.close());

/** A gRPC-web frame: flag byte, 32-bit length, payload. */
function frame(flag: number, payload: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + payload.length);
  out[0] = flag;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, 5);
  return out;
}

/** Splits a decoded gRPC-web body into its message payloads and its trailer lines. */
function parseFrames(body: Buffer): { messages: Buffer[]; trailer: Record<string, string> } {
  const messages: Buffer[] = [];
  const trailer: Record<string, string> = {};
  for (let at = 0; at < body.length;) {
    const len = body.readUInt32BE(at + 1);
    const payload = body.subarray(at + 5, at + 5 + len);
    if (body[at]! & 0x80) {
      for (const line of payload.toString("latin1").split("\r\n").filter(Boolean)) {
        const i = line.indexOf(":");
        trailer[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
    } else messages.push(payload);
    at += 5 + len;
  }
  return { messages, trailer };
}

/** Decodes a body of base64 segments, each possibly padded (as the protocol allows). */
const decodeSegments = (text: string) => Buffer.concat((text.match(/[A-Za-z0-9+/]*={0,2}/g) ?? []).filter(Boolean).map((s) => Buffer.from(s, "base64")));

const checkRequest = frame(0, toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: "" })));

describe("application/grpc-web-text (the default mode of Google's grpc-web client)", () => {
  it("answers a unary call in text mode: base64 messages and trailer, grpc-status 0", async () => {
    const res = await fetch(`${running.url}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web-text", accept: "application/grpc-web-text", "x-grpc-web": "1" },
      body: checkRequest.toString("base64"),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/grpc-web-text+proto");
    const text = await res.text();
    expect(text).toMatch(/^[A-Za-z0-9+/=]+$/);
    const { messages, trailer } = parseFrames(decodeSegments(text));
    expect(messages.map((m) => fromBinary(HealthCheckResponseSchema, m).status)).toEqual([S.SERVING]);
    expect(trailer["grpc-status"]).toBe("0");
  });

  it("accepts a request body in padded segments split across writes", async () => {
    const b64 = Buffer.from(checkRequest.subarray(0, 4)).toString("base64") + Buffer.from(checkRequest.subarray(4)).toString("base64");
    expect(b64.slice(0, -1)).toContain("=");
    const req = http.request(`${running.url}/grpc.health.v1.Health/Check`, { method: "POST", headers: { "content-type": "application/grpc-web-text+proto" } });
    req.write(b64.slice(0, 3));
    await new Promise((r) => setTimeout(r, 20));
    req.end(b64.slice(3));
    const [res] = (await once(req, "response")) as [http.IncomingMessage];
    let text = "";
    for await (const c of res) text += String(c);
    const { messages, trailer } = parseFrames(decodeSegments(text));
    expect(trailer["grpc-status"]).toBe("0");
    expect(fromBinary(HealthCheckResponseSchema, messages[0]!).status).toBe(S.SERVING);
  });

  it("streams a server stream (Health.Watch) in text mode as it goes, not at the end", async () => {
    const req = http.request(`${running.url}/grpc.health.v1.Health/Watch`, { method: "POST", headers: { "content-type": "application/grpc-web-text" } });
    req.end(checkRequest.toString("base64"));
    const [res] = (await once(req, "response")) as [http.IncomingMessage];
    expect(res.headers["content-type"]).toBe("application/grpc-web-text+proto");
    const [first] = (await once(res, "data")) as [Buffer];
    const { messages } = parseFrames(decodeSegments(first.toString("latin1")));
    expect(fromBinary(HealthCheckResponseSchema, messages[0]!).status).toBe(S.SERVING);
    req.destroy();
  });

  it("refuses a body that is not base64 with INVALID_ARGUMENT in the trailer", async () => {
    const res = await fetch(`${running.url}/grpc.health.v1.Health/Check`, { method: "POST", headers: { "content-type": "application/grpc-web-text" }, body: "not*base64!" });
    const text = await res.text();
    const grpcStatus = res.headers.get("grpc-status") ?? parseFrames(decodeSegments(text)).trailer["grpc-status"];
    expect(grpcStatus).toBe("3");
  });
});
