import { createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as S } from "@caas/gen/grpc/health/v1/health_pb.js";
import { createOutboundScopeInterceptor, PeerDirectory } from "../src/clients.js";
import { runInScope } from "../src/context.js";
import { createLogger } from "../src/logger.js";

const logger = createLogger({ service: "t", instance: "t", level: "silent" });

function recordingClient() {
  const seen: Headers[] = [];
  const transport = createRouterTransport(
    ({ service }) => {
      service(Health, {
        check: (_req, ctx) => {
          seen.push(ctx.requestHeader);
          return { status: S.SERVING };
        },
      });
    },
    { transport: { interceptors: [createOutboundScopeInterceptor()] } },
  );
  return { client: createClient(Health, transport), seen };
}

describe("outbound scope propagation", () => {
  it("forwards the correlation id, the caller's Authorization and the remaining deadline", async () => {
    const { client, seen } = recordingClient();
    await runInScope({ correlationId: "corr-7", authorization: "Bearer user-jwt", deadlineMs: Date.now() + 1500, logger }, () => client.check({ service: "" }));
    const h = seen[0]!;
    expect(h.get("x-correlation-id")).toBe("corr-7");
    expect(h.get("authorization")).toBe("Bearer user-jwt");
    const ms = Number(h.get("grpc-timeout")?.replace(/m$/, "") ?? h.get("connect-timeout-ms"));
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThanOrEqual(1500);
  });

  it("starts a new correlation id for calls a service makes by itself, and forwards no credentials", async () => {
    const { client, seen } = recordingClient();
    await client.check({ service: "" });
    expect(seen[0]!.get("x-correlation-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[0]!.get("authorization")).toBeNull();
  });

  it("keeps an explicitly set Authorization (a service token) over the caller's", async () => {
    const { client, seen } = recordingClient();
    await runInScope({ correlationId: "c", authorization: "Bearer user", logger }, () => client.check({ service: "" }, { headers: { authorization: "Bearer svc" } }));
    expect(seen[0]!.get("authorization")).toBe("Bearer svc");
  });
});

describe("PeerDirectory", () => {
  it("reads peer URLs from configuration and can be rewired after binding", () => {
    const dir = new PeerDirectory();
    expect(dir.get("chat")).toEqual([]);
    dir.set("chat", ["http://127.0.0.1:1"]);
    dir.set("chat", ["http://127.0.0.1:2", "http://127.0.0.1:3"]);
    expect(dir.get("chat")).toEqual(["http://127.0.0.1:2", "http://127.0.0.1:3"]);
  });
});
