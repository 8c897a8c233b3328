import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { Health, HealthCheckResponseSchema, HealthCheckResponse_ServingStatus as Status, type HealthCheckResponse } from "@caas/gen/grpc/health/v1/health_pb.js";

export { HealthCheckResponse_ServingStatus as ServingStatus } from "@caas/gen/grpc/health/v1/health_pb.js";

/**
 * Serving status per service name, "" meaning the whole server (grpc.health.v1 semantics).
 * Watchers see every change; a draining server flips everything to NOT_SERVING first.
 */
export class HealthRegistry {
  private readonly statuses = new Map<string, Status>();
  private readonly watchers = new Set<() => void>();
  private stopped = false;

  constructor(serviceNames: string[]) {
    this.statuses.set("", Status.NOT_SERVING);
    for (const name of serviceNames) this.statuses.set(name, Status.NOT_SERVING);
  }

  set(service: string, status: Status): void {
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    for (const w of this.watchers) w();
  }

  /** Marks every service, and the server, with one status. */
  setAll(status: Status): void {
    for (const name of [...this.statuses.keys()]) this.set(name, status);
  }

  /** Marks everything NOT_SERVING for good: Watch streams send that and then end. */
  shutdown(): void {
    this.stopped = true;
    this.setAll(Status.NOT_SERVING);
    for (const w of this.watchers) w();
  }

  get isShutDown(): boolean {
    return this.stopped;
  }

  get(service: string): Status | undefined {
    return this.statuses.get(service);
  }

  entries(): [string, Status][] {
    return [...this.statuses.entries()];
  }

  /** Calls `fn` on every change until the returned function is called. */
  watch(fn: () => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }
}

/** grpc.health.v1.Health backed by a HealthRegistry (Check, Watch and List). */
export function createHealthService(registry: HealthRegistry): ServiceImpl<typeof Health> {
  const response = (status: Status): HealthCheckResponse => create(HealthCheckResponseSchema, { status });
  return {
    check(req) {
      const status = registry.get(req.service);
      if (status === undefined) throw new ConnectError(`unknown service ${req.service}`, Code.NotFound);
      return response(status);
    },
    async *watch(req, ctx) {
      let last: Status | undefined;
      let wake: (() => void) | undefined;
      const stop = registry.watch(() => wake?.());
      const aborted = new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
      try {
        while (!ctx.signal.aborted) {
          const status = registry.get(req.service) ?? Status.SERVICE_UNKNOWN;
          if (status !== last) {
            last = status;
            yield response(status);
          }
          if (registry.isShutDown) return;
          await Promise.race([new Promise<void>((resolve) => (wake = resolve)), aborted]);
        }
      } finally {
        stop();
      }
    },
    list() {
      const statuses: Record<string, HealthCheckResponse> = {};
      for (const [name, status] of registry.entries()) statuses[name] = response(status);
      return { statuses };
    },
  };
}
