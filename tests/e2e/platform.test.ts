import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { ViolationsSchema } from "@caas/gen/buf/validate/validate_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { WireType } from "@bufbuild/protobuf/wire";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, inject, it } from "vitest";
import { PlatformService, GetPlatformStatusRequestSchema, GetPlatformStatusResponseSchema } from "@caas/gen/caas/gateway/v1/gateway_service_pb.js";
import { ServingState } from "@caas/gen/caas/gateway/v1/platform_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "@caas/gen/grpc/health/v1/health_pb.js";
import { allTransports, bufCli, grpcJsUnary, grpcurlPath, run } from "../support/clients.js";
import { readLogLines } from "../support/spawn-platform.js";

const platform = inject("embedded");
const gateway = platform.endpoints.gateway!;
const SERVICES = ["gateway", "auth", "chat", "socket", "media", "search", "compliance", "crypto"];
const OWNED: Record<string, string[]> = {
  gateway: ["caas.gateway.v1.PlatformService"],
  auth: ["caas.auth.v1.TenantAdminService", "caas.auth.v1.UserAdminService", "caas.auth.v1.AuthService", "caas.auth.v1.AuthInternalService"],
  chat: ["caas.chat.v1.ChatService", "caas.chat.v1.ChatInternalService", "caas.chat.v1.MessageKeysInternalService"],
  socket: ["caas.realtime.v1.RealtimeService"],
};
/** A GetPlatformStatusRequest of 5 MiB (an unknown field), over the default 4 MiB read limit. */
function oversized() {
  const req = create(GetPlatformStatusRequestSchema);
  req.$unknown = [{ no: 999, wireType: WireType.LengthDelimited, data: new Uint8Array(5 * 1024 * 1024) }];
  return req;
}
const STANDARD = ["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"];

describe("embedded platform end to end", () => {
  it("runs every service on its own port", () => {
    expect(Object.keys(platform.endpoints).sort()).toEqual([...SERVICES].sort());
  });

  it.each(SERVICES)("%s lists its services through reflection (buf curl)", async (name) => {
    const out = await bufCli(["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--list-services", platform.endpoints[name]!]);
    const listed = out.trim().split("\n");
    for (const s of STANDARD) expect(listed).toContain(s);
    for (const s of OWNED[name] ?? []) expect(listed).toContain(s);
  });

  it.each(SERVICES)("%s answers grpc.health.v1 Check and GET /health", async (name) => {
    const client = createClient(Health, createGrpcTransport({ baseUrl: platform.endpoints[name]! }));
    const res = await client.check({ service: "" });
    expect(res.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    const http = await fetch(`${platform.endpoints[name]}/health`);
    expect(http.status).toBe(200);
    expect(await http.json()).toMatchObject({ service: name, status: "SERVING" });
  });

  it("reports an unknown health service as NOT_FOUND", async () => {
    const client = createClient(Health, createGrpcTransport({ baseUrl: gateway }));
    await expect(client.check({ service: "no.such.Service" })).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("calls a method through reflection only (buf curl --reflect, no local schema)", async () => {
    const out = await bufCli(["curl", "--protocol", "grpc", "--http2-prior-knowledge", `${gateway}/caas.gateway.v1.PlatformService/GetPlatformStatus`]);
    const body = JSON.parse(out) as { status: { state: string; services: unknown[] } };
    expect(body.status.state).toBe("SERVING_STATE_SERVING");
    expect(body.status.services).toHaveLength(SERVICES.length);
  });

  it("is usable from grpcurl (reflection v1 with v1alpha fallback)", async (ctx) => {
    const grpcurl = grpcurlPath();
    if (!grpcurl) {
      console.warn("SKIPPED: grpcurl not installed (run tests/infra/up grpcurl); CI requires it");
      ctx.skip();
      return;
    }
    const host = new URL(gateway).host;
    const list = await run(grpcurl, ["-plaintext", host, "list"]);
    expect(list.stdout).toContain("caas.gateway.v1.PlatformService");
    expect(list.stdout).toContain("grpc.health.v1.Health");
    const described = await run(grpcurl, ["-plaintext", host, "describe", "caas.gateway.v1.PlatformStatus"]);
    expect(described.stdout).toContain("check_time");
    const called = await run(grpcurl, ["-plaintext", "-H", "x-correlation-id: grpcurl-probe-1", host, "caas.gateway.v1.PlatformService/GetPlatformStatus"]);
    expect((JSON.parse(called.stdout) as { status: { state: string } }).status.state).toBe("SERVING_STATE_SERVING");
  });

  for (const [label, transport] of Object.entries(allTransports(gateway))) {
    it(`GetPlatformStatus over ${label} on the one gateway port`, async () => {
      const client = createClient(PlatformService, transport);
      const res = await client.getPlatformStatus({});
      expect(res.status?.state).toBe(ServingState.SERVING);
      expect(res.status?.mode).toBe("embedded");
      expect(res.status?.services.map((s) => s.name).sort()).toEqual([...SERVICES].sort());
      for (const s of res.status?.services ?? []) expect(s.state).toBe(ServingState.SERVING);
    });
  }

  it("answers @grpc/grpc-js, the independent native client, and echoes the correlation id", async () => {
    const { response, headers } = await grpcJsUnary(
      new URL(gateway).host,
      "/caas.gateway.v1.PlatformService/GetPlatformStatus",
      GetPlatformStatusRequestSchema,
      GetPlatformStatusResponseSchema,
      create(GetPlatformStatusRequestSchema),
      { "x-correlation-id": "grpc-js-probe-42" },
    );
    expect(response.status?.services).toHaveLength(SERVICES.length);
    expect(headers.get("x-correlation-id")).toEqual(["grpc-js-probe-42"]);
  });

  it("carries a client's correlation id across the hop into every service's log lines", async () => {
    const id = `e2e-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    let echoed: string | null = null;
    const client = createClient(PlatformService, allTransports(gateway)["connect over HTTP/1.1"]!);
    await client.getPlatformStatus({}, { headers: { "x-correlation-id": id }, onHeader: (h) => (echoed = h.get("x-correlation-id")) });
    expect(echoed).toBe(id);
    // Lines are written asynchronously: poll briefly, until every service has logged and the
    // gateway's line of the public call is there too (the gateway logs its calls to the others
    // before its own call ends, so "every service" alone can come first).
    let services = new Set<unknown>();
    let gatewayLine: Record<string, unknown> | undefined;
    for (let i = 0; i < 100 && (services.size < SERVICES.length || !gatewayLine); i++) {
      const lines = platform.logFiles.flatMap(readLogLines).filter((l) => l.correlationId === id);
      services = new Set(lines.map((l) => l.service));
      gatewayLine = lines.find((l) => l.service === "gateway" && l.rpc === "caas.gateway.v1.PlatformService/GetPlatformStatus");
      if (services.size < SERVICES.length || !gatewayLine) await new Promise((r) => setTimeout(r, 50));
    }
    // The gateway logged the public call; every service it asked logged the health call.
    expect([...services].sort()).toEqual([...SERVICES].sort());
    expect(gatewayLine).toMatchObject({ code: "OK", protocol: "connect" });
  });

  it("probes the event bus end to end: every service answers, the correlation id rides the records", async () => {
    const id = `probe-${Date.now()}`;
    const client = createClient(PlatformService, allTransports(gateway)["gRPC over HTTP/2"]!);
    const res = await client.probeEventBus({ timeoutMs: 10_000 }, { headers: { "x-correlation-id": id } });
    expect(res.missingServices).toEqual([]);
    expect(new Set(res.answers.map((a) => a.service))).toEqual(new Set(SERVICES));
    let consumers = new Set<unknown>();
    for (let i = 0; i < 40 && consumers.size < SERVICES.length; i++) {
      consumers = new Set(
        platform.logFiles
          .flatMap(readLogLines)
          .filter((l) => l.correlationId === id && l.msg === "event bus probe received")
          .map((l) => l.service),
      );
      if (consumers.size < SERVICES.length) await new Promise((r) => setTimeout(r, 50));
    }
    expect([...consumers].sort()).toEqual([...SERVICES].sort());
  });

  it("replaces an unusable correlation id with a generated one", async () => {
    let echoed: string | null = null;
    const client = createClient(PlatformService, allTransports(gateway)["gRPC over HTTP/2"]!);
    await client.getPlatformStatus({}, { headers: { "x-correlation-id": "bad id with spaces" }, onHeader: (h) => (echoed = h.get("x-correlation-id")) });
    expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("validates input against the protos' buf.validate rules before anything else", async () => {
    const chat = createClient(ChatService, allTransports(platform.endpoints.chat!)["gRPC over HTTP/2"]!);
    const err = await chat.sendMessage({ conversationId: "not-a-uuid", clientMessageId: "", text: "x".repeat(4001) }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.InvalidArgument);
    const fields = err?.findDetails(ViolationsSchema).flatMap((v) => v.violations.map((x) => x.field?.elements.map((e) => e.fieldName).join(".")));
    expect(fields).toEqual(expect.arrayContaining(["conversation_id", "client_message_id", "text"]));
  });

  it("answers an unknown RPC with UNIMPLEMENTED and an unknown path with 404", async () => {
    const res = await fetch(`${gateway}/caas.nope.v1.NopeService/Nope`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(404);
    const missing = await fetch(`${gateway}/definitely/not/here`);
    expect(missing.status).toBe(404);
  });

  it("refuses a request larger than the configured read limit: 413 invalid_argument on Connect, not a retryable 429", async () => {
    const res = await fetch(`${gateway}/caas.gateway.v1.PlatformService/GetPlatformStatus`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ pad: "x".repeat(5 * 1024 * 1024) }),
    });
    expect(res.status).toBe(413);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe("invalid_argument");
    expect(body.message).toMatch(/larger than the limit/);
    // A chunked body (no Content-Length) is refused while it is read, with the same answer.
    const chunk = new TextEncoder().encode("x".repeat(1024 * 1024));
    const chunked = await fetch(`${gateway}/caas.gateway.v1.PlatformService/GetPlatformStatus`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode('{"pad":"'));
          for (let i = 0; i < 5; i++) c.enqueue(chunk);
          c.enqueue(new TextEncoder().encode('"}'));
          c.close();
        },
      }),
      duplex: "half",
    });
    expect(chunked.status).toBe(413);
    expect(((await chunked.json()) as { code: string }).code).toBe("invalid_argument");
    const client = createClient(PlatformService, createConnectTransport({ baseUrl: gateway, httpVersion: "1.1", useBinaryFormat: true }));
    const err = await client.getPlatformStatus(oversized()).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.InvalidArgument);
  });

  it("keeps RESOURCE_EXHAUSTED for an oversized gRPC message, as the gRPC status-code spec prescribes", async () => {
    const client = createClient(PlatformService, createGrpcTransport({ baseUrl: gateway }));
    const err = await client.getPlatformStatus(oversized()).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.ResourceExhausted);
  });
});
