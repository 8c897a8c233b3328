import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, inject, it } from "vitest";
import { GetPlatformStatusRequestSchema, GetPlatformStatusResponseSchema, PlatformService } from "@caas/gen/caas/gateway/v1/gateway_service_pb.js";
import { ServingState } from "@caas/gen/caas/gateway/v1/platform_pb.js";
import { MediaService } from "@caas/gen/caas/media/v1/media_service_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "@caas/gen/grpc/health/v1/health_pb.js";
import { allTransports, bufCli, grpcJsUnary } from "../support/clients.js";
import { readLogLines } from "../support/spawn-platform.js";

const cluster = inject("cluster");

async function logsWith(files: string[], pred: (l: Record<string, unknown>) => boolean, want: number) {
  let lines: Record<string, unknown>[] = [];
  for (let i = 0; i < 60; i++) {
    lines = files.flatMap(readLogLines).filter(pred);
    if (lines.length >= want) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return lines;
}

describe.skipIf(!cluster)("cluster mode: one process per instance on the real engines", () => {
  const c = cluster!;
  const gateway = c?.endpoints.gateway ?? "";

  it("runs two chat and two socket instances next to one of every other service", () => {
    const count = (s: string) => c.instances.filter((i) => i.service === s).length;
    expect(count("chat")).toBe(2);
    expect(count("socket")).toBe(2);
    for (const s of ["gateway", "auth", "media", "search", "compliance", "crypto"]) expect(count(s)).toBe(1);
  });

  it("serves reflection and health on every instance", async () => {
    for (const inst of c.instances) {
      const out = await bufCli(["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--list-services", inst.url]);
      expect(out).toContain("grpc.health.v1.Health");
      expect(out).toContain("grpc.reflection.v1alpha.ServerReflection");
      const res = await createClient(Health, createGrpcTransport({ baseUrl: inst.url })).check({ service: "" });
      expect(res.status, inst.instanceId).toBe(HealthCheckResponse_ServingStatus.SERVING);
    }
  });

  it("reports every instance in GetPlatformStatus, over each protocol", async () => {
    for (const transport of Object.values(allTransports(gateway))) {
      const res = await createClient(PlatformService, transport).getPlatformStatus({});
      expect(res.status?.mode).toBe("cluster");
      expect(res.status?.state).toBe(ServingState.SERVING);
      expect(res.status?.services).toHaveLength(c.instances.length);
      expect(
        res.status?.services
          .filter((s) => s.name === "chat")
          .map((s) => s.address)
          .sort(),
      ).toEqual(
        c.instances
          .filter((i) => i.service === "chat")
          .map((i) => i.url)
          .sort(),
      );
    }
  });

  it("answers @grpc/grpc-js and carries the correlation id over the RPC hop into each instance's log", async () => {
    const id = `cluster-rpc-${Date.now()}`;
    const { response, headers } = await grpcJsUnary(
      new URL(gateway).host,
      "/caas.gateway.v1.PlatformService/GetPlatformStatus",
      GetPlatformStatusRequestSchema,
      GetPlatformStatusResponseSchema,
      create(GetPlatformStatusRequestSchema),
      { "x-correlation-id": id },
    );
    expect(response.status?.services).toHaveLength(c.instances.length);
    expect(headers.get("x-correlation-id")).toEqual([id]);
    const lines = await logsWith(c.logFiles, (l) => l.correlationId === id, c.instances.length);
    expect(new Set(lines.map((l) => l.instance))).toEqual(new Set(c.instances.map((i) => i.instanceId)));
  });

  it("carries the correlation id through Kafka: every instance logs the probe it consumed", async () => {
    const id = `cluster-kafka-${Date.now()}`;
    const client = createClient(PlatformService, createGrpcTransport({ baseUrl: gateway }));
    const res = await client.probeEventBus({ timeoutMs: 20_000 }, { headers: { "x-correlation-id": id }, timeoutMs: 30_000 });
    expect(res.missingServices).toEqual([]);
    expect(new Set(res.answers.map((a) => a.instanceId))).toEqual(new Set(c.instances.map((i) => i.instanceId)));
    const consumed = await logsWith(c.logFiles, (l) => l.correlationId === id && l.msg === "event bus probe received", c.instances.length);
    expect(new Set(consumed.map((l) => l.instance))).toEqual(new Set(c.instances.map((i) => i.instanceId)));
    // The consuming process is not the one that published: the id crossed Kafka in a header.
    expect(consumed.filter((l) => l.service === "chat")).toHaveLength(2);
  }, 40_000);

  it("issues tokens on auth (MongoDB) that every other process verifies through the JWKS", async () => {
    const bearer =
      (credential: string): Interceptor =>
      (next) =>
      (req) => {
        req.header.set("authorization", `Bearer ${credential}`);
        return next(req);
      };
    const authUrl = c.instances.find((i) => i.service === "auth")!.url;
    const admin = createClient(TenantAdminService, createGrpcTransport({ baseUrl: authUrl, interceptors: [bearer(c.adminToken)] }));
    const { tenant } = await admin.createTenant({ name: "Cluster Co" });
    const { secret } = await admin.createApiKey({ tenantId: tenant!.id, name: "backend" });
    const backend = createClient(UserAdminService, createGrpcTransport({ baseUrl: authUrl, interceptors: [bearer(secret)] }));
    await backend.upsertUser({ userId: "carol", displayName: "Carol" });
    const { tokens } = await backend.issueUserToken({ userId: "carol", deviceId: "carol-phone" });
    const token = tokens!.accessToken;
    for (const inst of c.instances.filter((i) => i.service !== "auth")) {
      const ok = await createClient(Health, createGrpcTransport({ baseUrl: inst.url, interceptors: [bearer(token)] })).check({ service: "" });
      expect(ok.status, inst.instanceId).toBe(HealthCheckResponse_ServingStatus.SERVING);
      const bad = await createClient(Health, createGrpcTransport({ baseUrl: inst.url, interceptors: [bearer(`${token.slice(0, -2)}xx`)] }))
        .check({ service: "" })
        .then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        );
      expect(bad?.code, inst.instanceId).toBe(Code.Unauthenticated);
    }
  }, 30_000);

  it("uploads, completes and downloads media through the gateway, the bytes on S3 and the record on MongoDB", async () => {
    const bearer =
      (credential: string): Interceptor =>
      (next) =>
      (req) => {
        req.header.set("authorization", `Bearer ${credential}`);
        return next(req);
      };
    const authUrl = c.instances.find((i) => i.service === "auth")!.url;
    const admin = createClient(TenantAdminService, createGrpcTransport({ baseUrl: authUrl, interceptors: [bearer(c.adminToken)] }));
    const { tenant } = await admin.createTenant({ name: "Cluster Media" });
    const { secret } = await admin.createApiKey({ tenantId: tenant!.id, name: "backend" });
    const backend = createClient(UserAdminService, createGrpcTransport({ baseUrl: authUrl, interceptors: [bearer(secret)] }));
    await backend.upsertUser({ userId: "dana", displayName: "Dana" });
    const { tokens } = await backend.issueUserToken({ userId: "dana", deviceId: "dana-phone" });
    const media = createClient(MediaService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(tokens!.accessToken)] }));
    const bytes = randomBytes(40_000);
    const { media: m, upload } = await media.createUpload({ name: "scan.png", mimeType: "image/png", sizeBytes: BigInt(bytes.length) });
    const form = new FormData();
    for (const f of upload!.fields) form.append(f.name, f.value);
    form.append(upload!.fileField, new Blob([bytes]), "scan.png");
    expect((await fetch(upload!.url, { method: "POST", body: form })).status).toBeLessThan(300);
    expect((await media.completeUpload({ mediaId: m!.id })).media?.sizeBytes).toBe(BigInt(bytes.length));
    const res = await fetch((await media.getDownloadUrl({ mediaId: m!.id })).url);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    await media.deleteMedia({ mediaId: m!.id });
    expect(
      (
        await media.getMedia({ mediaId: m!.id }).then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        )
      )?.code,
    ).toBe(Code.NotFound);
  }, 30_000);
});
