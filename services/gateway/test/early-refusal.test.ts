import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CaasError } from "@caas/client";
import { ChatService, SendMessageRequestSchema, SendMessageResponseSchema } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { RetryInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { PeerDirectory } from "@caas/shared/clients";
import { createErrorInterceptor } from "@caas/shared/interceptors/errors";
import { createLogger } from "@caas/shared/logger";
import { DualListener } from "@caas/shared/server/listener";
import { createRpcHandler } from "@caas/shared/server/rpc-handler";
import { createEarlyRefusal } from "../src/early-refusal.js";
import { createForwarder, PUBLIC_SERVICES } from "../src/forwarding.js";
import { OutstandingBound, OUTSTANDING_RETRY_AFTER_MS } from "../src/outstanding-bound.js";

/** The delay of a RetryInfo in ms. */
function delayMs(e: ConnectError): number | undefined {
  const d = e.findDetails(RetryInfoSchema)[0]?.retryDelay;
  return d ? Number(d.seconds) * 1000 + d.nanos / 1e6 : undefined;
}

/** google.rpc.Status's details (field 3: Any, with type_url 1 and value 2), read with protobuf's own wire reader. */
function statusDetails(bytes: Uint8Array): { typeUrl: string; value: Uint8Array }[] {
  const out: { typeUrl: string; value: Uint8Array }[] = [];
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field !== 3) {
      r.skip(wire);
      continue;
    }
    const any = new BinaryReader(r.bytes());
    const d: { typeUrl: string; value: Uint8Array } = { typeUrl: "", value: new Uint8Array() };
    while (any.pos < any.len) {
      const [f, w] = any.tag();
      if (f === 1) d.typeUrl = any.string();
      else if (f === 2) d.value = any.bytes();
      else any.skip(w);
    }
    out.push(d);
  }
  return out;
}

/**
 * The gateway refuses a call its outstanding bound refuses as soon as the request's headers are
 * read, in the request's own protocol (ADR 0211). Two real gateways share one bound in front of a
 * chat stand-in whose SendMessage waits until the test lets it answer: "early" has the early
 * refusal in front of its RPC stack, "stack" has only the stack (the gateway before). With one call
 * outstanding and a bound of one, every client gets the same refusal from both, and the early one
 * never reaches the early gateway's stack.
 */
describe("gateway: calls refused before the RPC stack", () => {
  const servers: http2.Http2Server[] = [];
  const listeners: DualListener[] = [];
  const sessions = new Set<http2.ServerHttp2Session>();
  const waiting: (() => void)[] = [];
  const logLines: { msg: string; owner?: string; refused?: number; retries?: number; rpcs?: Record<string, number> }[] = [];
  let stackCalls = 0;
  let earlyRefusals = 0;
  let earlyUrl = "";
  let stackUrl = "";
  let occupied: Promise<unknown> | undefined;
  const bound = new OutstandingBound(1);

  beforeAll(async () => {
    const chat = http2.createServer(
      connectNodeAdapter({
        routes: (router) =>
          router.service(ChatService, {
            sendMessage: async () => {
              await new Promise<void>((resolve) => waiting.push(resolve));
              return { messageId: "m", seq: 1n };
            },
          }),
      }),
    );
    chat.on("session", (s) => sessions.add(s));
    servers.push(chat);
    await new Promise<void>((r) => chat.listen(0, "127.0.0.1", r));
    const peers = new PeerDirectory();
    peers.set("chat", [`http://127.0.0.1:${(chat.address() as AddressInfo).port}`]);

    const quiet = createLogger({ service: "gateway-test", instance: "t", level: "silent" });
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) logLines.push(JSON.parse(line) as (typeof logLines)[number]);
        cb();
      },
    });
    const counting: Interceptor = (next) => (req) => {
      stackCalls++;
      return next(req);
    };
    const gateway = async (early: boolean) => {
      const rpc = createRpcHandler({
        routes: (router) => router.service(ChatService, createForwarder(ChatService, "chat", peers, undefined, bound)),
        fallback: (_req, res) => {
          res.writeHead(404);
          res.end();
        },
        logger: quiet,
        interceptors: [...(early ? [counting] : []), createErrorInterceptor()],
      });
      const refuse = createEarlyRefusal({ bound, services: PUBLIC_SERVICES, logger: pino({ base: null }, sink) });
      const counted = (req: Parameters<typeof refuse>[0], res: Parameters<typeof refuse>[1]) => {
        const refused = refuse(req, res);
        if (refused) earlyRefusals++;
        return refused;
      };
      const listener = new DualListener({ host: "127.0.0.1", port: 0, handler: early ? (req, res) => counted(req, res) || rpc(req, res) : rpc });
      listeners.push(listener);
      return `http://127.0.0.1:${await listener.listen()}`;
    };
    earlyUrl = await gateway(true);
    stackUrl = await gateway(false);

    // The one call the bound lets through, held at the owner.
    occupied = createClient(ChatService, createGrpcTransport({ baseUrl: stackUrl })).sendMessage({ conversationId: "c", clientMessageId: "held", text: "hi" }, { timeoutMs: 30_000 });
    await vi.waitFor(() => expect(waiting).toHaveLength(1), { timeout: 5_000 });
  });

  afterAll(async () => {
    for (const release of waiting.splice(0)) release();
    await occupied;
    for (const s of sessions) s.destroy();
    await Promise.all(listeners.map((l) => l.close(0)));
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  const request = { conversationId: "c", clientMessageId: "m-1", text: "hi" };
  const refusalOf = (transport: Transport, headers?: Record<string, string>) =>
    createClient(ChatService, transport)
      .sendMessage(request, { timeoutMs: 10_000, headers })
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );

  const transports: Record<string, (baseUrl: string) => Transport> = {
    "Connect over HTTP/1.1 (JSON)": (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1" }),
    "Connect over HTTP/1.1 (binary)": (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
    "Connect over HTTP/2": (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "2" }),
    "gRPC-web over HTTP/1.1": (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
    "gRPC-web over HTTP/2": (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "2" }),
    "gRPC over HTTP/2 (connect-node)": (baseUrl) => createGrpcTransport({ baseUrl }),
  };

  for (const [name, transport] of Object.entries(transports)) {
    it(`${name}: the client reads RESOURCE_EXHAUSTED with the bound's RetryInfo, as from the stack, and the stack never sees the call`, async () => {
      const before = stackCalls;
      const early = await refusalOf(transport(earlyUrl));
      const stack = await refusalOf(transport(stackUrl));
      expect(early?.code).toBe(Code.ResourceExhausted);
      expect(early?.rawMessage).toMatch(/1 calls outstanding to chat \(CAAS_GATEWAY_MAX_OUTSTANDING\)/);
      expect(delayMs(early!)).toBe(OUTSTANDING_RETRY_AFTER_MS);
      expect({ code: early?.code, message: early?.rawMessage, delay: delayMs(early!) }).toEqual({ code: stack?.code, message: stack?.rawMessage, delay: delayMs(stack!) });
      // @caas/client reads the delay from the same detail.
      expect(CaasError.from(early).retryAfterMs).toBe(OUTSTANDING_RETRY_AFTER_MS);
      expect(stackCalls).toBe(before);
      expect(waiting).toHaveLength(1);
    });
  }

  it("gRPC: a trailers-only response (one HEADERS frame that ends the stream) with the stack's status fields", async () => {
    const call = async (url: string) => {
      const session = http2.connect(url);
      try {
        const body = toBinary(SendMessageRequestSchema, create(SendMessageRequestSchema, { conversationId: "c", clientMessageId: "m-2", text: "hi" }));
        const frame = Buffer.alloc(5 + body.length);
        frame.writeUInt32BE(body.length, 1);
        frame.set(body, 5);
        const stream = session.request({ ":method": "POST", ":path": "/caas.chat.v1.ChatService/SendMessage", "content-type": "application/grpc", te: "trailers" });
        stream.end(frame);
        return await new Promise<{ headers: http2.IncomingHttpHeaders; endsStream: boolean; trailers?: http2.IncomingHttpHeaders }>((resolve, reject) => {
          let got: { headers: http2.IncomingHttpHeaders; endsStream: boolean; trailers?: http2.IncomingHttpHeaders } | undefined;
          stream.on("response", (headers, flags) => (got = { headers, endsStream: (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0 }));
          stream.on("trailers", (trailers: http2.IncomingHttpHeaders) => {
            if (got) got.trailers = trailers;
          });
          stream.on("error", reject);
          stream.on("close", () => (got ? resolve(got) : reject(new Error("no response"))));
          stream.resume();
        });
      } finally {
        session.close();
      }
    };
    const early = await call(earlyUrl);
    const stack = await call(stackUrl);
    expect(early.endsStream).toBe(true);
    expect(early.headers[":status"]).toBe(200);
    expect(early.headers["content-type"]).toBe("application/grpc+proto");
    const fields = (h: http2.IncomingHttpHeaders | undefined) => ({ status: h?.["grpc-status"], message: h?.["grpc-message"], details: h?.["grpc-status-details-bin"] });
    expect(fields(early.headers).status).toBe("8");
    expect(fields(early.headers)).toEqual(fields(stack.trailers));
    expect(early.headers["content-type"]).toBe(stack.headers["content-type"]);
  });

  it("gRPC: @grpc/grpc-js reads RESOURCE_EXHAUSTED and a google.rpc.Status whose RetryInfo names the bound's delay", async () => {
    const address = earlyUrl.replace("http://", "");
    const client = new grpc.Client(address, grpc.credentials.createInsecure());
    const err = await new Promise<grpc.ServiceError>((resolve, reject) => {
      client.makeUnaryRequest(
        "/caas.chat.v1.ChatService/SendMessage",
        (m: typeof request) => Buffer.from(toBinary(SendMessageRequestSchema, create(SendMessageRequestSchema, m))),
        (b: Buffer) => fromBinary(SendMessageResponseSchema, b),
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + 10_000 },
        (e) => (e ? resolve(e) : reject(new Error("the call was not refused"))),
      );
    }).finally(() => client.close());
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(err.details).toMatch(/1 calls outstanding to chat/);
    const bin = err.metadata.get("grpc-status-details-bin")[0] as Buffer;
    const details = statusDetails(bin);
    expect(details.map((d) => d.typeUrl)).toEqual(["type.googleapis.com/google.rpc.RetryInfo"]);
    const retry = fromBinary(RetryInfoSchema, details[0]!.value);
    expect(Number(retry.retryDelay?.seconds) * 1000 + (retry.retryDelay?.nanos ?? 0) / 1e6).toBe(OUTSTANDING_RETRY_AFTER_MS);
  });

  it("Connect and gRPC-web (binary and text) over HTTP/1.1: the same status, content type and body bytes as the stack's refusal", async () => {
    const body = toBinary(SendMessageRequestSchema, create(SendMessageRequestSchema, { conversationId: "c", clientMessageId: "m-3", text: "hi" }));
    const enveloped = Buffer.alloc(5 + body.length);
    enveloped.writeUInt32BE(body.length, 1);
    enveloped.set(body, 5);
    const cases: { contentType: string; body: Uint8Array | string }[] = [
      { contentType: "application/json", body: JSON.stringify({ conversationId: "c", clientMessageId: "m-3", text: "hi" }) },
      { contentType: "application/proto", body },
      { contentType: "application/grpc-web+proto", body: enveloped },
      { contentType: "application/grpc-web-text", body: enveloped.toString("base64") },
    ];
    for (const c of cases) {
      const post = async (url: string) => {
        const res = await fetch(`${url}/caas.chat.v1.ChatService/SendMessage`, { method: "POST", headers: { "content-type": c.contentType }, body: c.body });
        return { status: res.status, contentType: res.headers.get("content-type"), body: Buffer.from(await res.arrayBuffer()).toString("base64") };
      };
      const early = await post(earlyUrl);
      expect(early).toEqual(await post(stackUrl));
      expect(early.status).toBe(c.contentType.startsWith("application/grpc-web") ? 200 : 429);
    }
  });

  it("lets a call through to the stack when the bound has room, and reports refusals as one line per owner with their count", async () => {
    const client = createClient(ChatService, createGrpcTransport({ baseUrl: earlyUrl }));
    const results = await Promise.all([
      refusalOf(createGrpcTransport({ baseUrl: earlyUrl })),
      refusalOf(createGrpcTransport({ baseUrl: earlyUrl }), { "grpc-previous-rpc-attempts": "1" }),
      refusalOf(createConnectTransport({ baseUrl: earlyUrl, httpVersion: "1.1" })),
    ]);
    expect(results.map((e) => e?.code)).toEqual([Code.ResourceExhausted, Code.ResourceExhausted, Code.ResourceExhausted]);
    await vi.waitFor(
      () => {
        const lines = logLines.filter((l) => l.owner === "chat" && l.msg === "calls refused before the RPC stack (outstanding bound)");
        // Every refusal of the file so far, each counted once, on fewer lines than refusals.
        expect(lines.reduce((n, l) => n + (l.refused ?? 0), 0)).toBe(earlyRefusals);
        expect(lines.length).toBeLessThan(earlyRefusals);
        expect(lines.at(-1)?.rpcs?.["caas.chat.v1.ChatService/SendMessage"]).toBeGreaterThan(0);
        expect(lines.reduce((n, l) => n + (l.retries ?? 0), 0)).toBeGreaterThanOrEqual(1);
      },
      { timeout: 5_000 },
    );

    // The held call ends: the next one goes through the early gateway's stack to the owner.
    waiting.shift()!();
    await occupied;
    const before = stackCalls;
    const sent = client.sendMessage({ conversationId: "c", clientMessageId: "m-4", text: "hi" }, { timeoutMs: 10_000 });
    await vi.waitFor(() => expect(waiting).toHaveLength(1), { timeout: 5_000 });
    expect(stackCalls).toBe(before + 1);
    occupied = sent;
  });
});
