import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "@caas/gen/grpc/health/v1/health_pb.js";
import { PlatformService, type ProbeEventBusRequest } from "@caas/gen/caas/gateway/v1/gateway_service_pb.js";
import { PlatformStatusSchema, ServiceStatusSchema, ServingState, type ServiceStatus } from "@caas/gen/caas/gateway/v1/platform_pb.js";
import type { ProbeCollector } from "./probe-collector.js";
import { createPeerClient, type PeerDirectory } from "@caas/shared/clients";
import { SERVICE_NAMES, type RunMode } from "@caas/shared/config";
import type { Clock } from "@caas/shared/clock";

export interface PlatformServiceDeps {
  peers: PeerDirectory;
  clock: Clock;
  mode: RunMode;
  version: string;
  /** Deadline for each health call; an instance slower than this counts as unreachable. */
  checkTimeoutMs?: number;
  probes: ProbeCollector;
}

/** caas.gateway.v1.PlatformService: asks every known service instance for its health. */
export class PlatformServiceImpl implements ServiceImpl<typeof PlatformService> {
  constructor(private readonly deps: PlatformServiceDeps) {}

  async getPlatformStatus() {
    const targets = SERVICE_NAMES.flatMap((name) => this.deps.peers.get(name).map((url) => ({ name, url })));
    const services = await Promise.all(targets.map((t) => this.check(t.name, t.url)));
    const serving = services.filter((s) => s.state === ServingState.SERVING).length;
    const state = services.length > 0 && serving === services.length ? ServingState.SERVING : serving === 0 ? ServingState.NOT_SERVING : ServingState.DEGRADED;
    return {
      status: create(PlatformStatusSchema, {
        state,
        mode: this.deps.mode,
        services,
        checkTime: timestampFromMs(this.deps.clock.nowMs()),
        version: this.deps.version,
      }),
    };
  }

  async probeEventBus(req: ProbeEventBusRequest) {
    const expected = new Map(SERVICE_NAMES.map((name) => [name, this.deps.peers.get(name).length] as const).filter(([, n]) => n > 0));
    const result = await this.deps.probes.probe(expected, req.timeoutMs || 5_000);
    return {
      probeId: result.probeId,
      answers: result.answers.map((a) => ({ service: a.service, instanceId: a.instanceId, latencyMs: a.latencyMs })),
      missingServices: result.missing,
    };
  }

  private async check(name: (typeof SERVICE_NAMES)[number], url: string): Promise<ServiceStatus> {
    const started = performance.now();
    const client = createPeerClient(Health, name, this.deps.peers, { url });
    try {
      const res = await client.check({ service: "" }, { timeoutMs: this.deps.checkTimeoutMs ?? 2_000 });
      const serving = res.status === HealthCheckResponse_ServingStatus.SERVING;
      return create(ServiceStatusSchema, {
        name,
        address: url,
        state: serving ? ServingState.SERVING : ServingState.NOT_SERVING,
        latencyMs: Math.round(performance.now() - started),
        error: serving ? "" : `health status ${HealthCheckResponse_ServingStatus[res.status]}`,
      });
    } catch (err) {
      return create(ServiceStatusSchema, {
        name,
        address: url,
        state: ServingState.UNREACHABLE,
        latencyMs: Math.round(performance.now() - started),
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }
}
