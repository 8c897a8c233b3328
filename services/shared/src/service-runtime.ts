import type { DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { createMeshPrincipalResolver } from "./auth/mesh-resolver.js";
import { loadRevocationsFromAuth, RevocationSet, startRevocationFeed } from "./auth/revocations.js";
import { loadServiceSecretRoot } from "./auth/service-tokens.js";
import { createEventBusForConfig } from "./bus/bus-factory.js";
import type { EventBus } from "./bus/event-bus.js";
import { PeerDirectory } from "./clients.js";
import { systemClock, type Clock } from "./clock.js";
import { startConfig } from "./config-check.js";
import type { Config, ServiceName } from "./config.js";
import { UnimplementedError } from "./errors.js";
import { createLogger, type Logger } from "./logger.js";
import { startServiceHost, type RunningService, type ServiceDefinition } from "./server/service-host.js";

/** What a composition root hands to a service factory. */
export interface ServiceContext {
  config: Config;
  logger: Logger;
  clock: Clock;
  /** Addresses of peer services, for generated clients (createPeerClient). */
  peers: PeerDirectory;
  /** The event bus (embedded: shared SQLite log; cluster: Kafka + Schema Registry). */
  bus: EventBus;
  /**
   * The process's deny-set of revoked sessions, users and tenants, kept current from auth events
   * by the composition root; pass it to createMeshPrincipalResolver. Absent in hand-built contexts.
   */
  revocations?: RevocationSet;
  /**
   * The service-secret root (CAAS_SERVICE_SECRET, or generated in embedded mode), from which each
   * service derives its bootstrap secret for service tokens; absent when none is configured.
   */
  serviceSecret?: string;
}

/** Builds one service's definition from its context: `main.ts` and the embedded platform call it. */
export type ServiceFactory = (ctx: ServiceContext) => ServiceDefinition | Promise<ServiceDefinition>;

/**
 * An implementation of `service` whose every RPC answers UNIMPLEMENTED with a message naming the
 * issue that builds it. The routing, interceptors, validation and reflection around it are real.
 */
export function notBuiltYet<T extends DescService>(service: T, issue: string): ServiceImpl<T> {
  const impl: Record<string, unknown> = {};
  for (const method of service.methods) {
    const error = () => new UnimplementedError(`${service.typeName}/${method.name} is not built yet (${issue})`);
    impl[method.localName] =
      method.methodKind === "unary" || method.methodKind === "client_streaming"
        ? async () => {
            throw error();
          }
        : // eslint-disable-next-line require-yield
          async function* () {
            throw error();
          };
  }
  return impl as ServiceImpl<T>;
}

/**
 * Makes every full garbage collection of this process compact the whole old space, so the pages
 * that a burst left half empty are given back to the system (ADR 0212). A burst of realtime
 * authentications promotes garbage onto the same pages as the connections' long-lived objects;
 * V8's own heuristics compact only a few MiB per collection and keep the rest resident (idle
 * connections: about 21 KiB of RSS each without it, 8 with it, 6.7 of them live heap). The cost
 * is a full GC that copies everything live. The flag is set here rather than on the command line
 * because NODE_OPTIONS does not accept it, and V8 reads it at every full collection.
 */
export function compactOldSpaceOnFullGc(): void {
  setFlagsFromString("--compact-on-every-full-gc");
}

/** When the old space is worth a full collection of our own (OldSpaceCollector). */
export interface OldSpaceCollectorOptions {
  /** Bytes the old space uses now, its garbage included until a full collection frees it. */
  oldSpaceUsed: () => number;
  /** Starts a full collection. */
  collect: () => void;
  /** Growth over the old space's size after the last full collection that is worth one: at least this and at least that size again. */
  minGrowthBytes?: number;
  /** Growth between two checks under which the burst is over. */
  quietBytes?: number;
}

/**
 * Starts a full GC once a burst is over, when V8 would not. After a burst (a reconnect storm's
 * authentications) the old space holds the burst's promoted garbage until old-space allocation
 * reaches V8's next limit, which an idle instance does not reach, and V8's memory reducer waits
 * for a low allocation rate that 15,000 clients' heartbeats keep above its threshold (ADR 0212).
 * `check()` runs on an interval: when the old space has at least doubled (and by at least
 * `minGrowthBytes`) since the lowest size seen after a collection, and grew by less than
 * `quietBytes` since the last check, it collects.
 */
export class OldSpaceCollector {
  private readonly minGrowth: number;
  private readonly quiet: number;
  private floor: number;
  private last: number;

  constructor(private readonly opts: OldSpaceCollectorOptions) {
    this.minGrowth = opts.minGrowthBytes ?? 64 * 1024 * 1024;
    this.quiet = opts.quietBytes ?? 8 * 1024 * 1024;
    this.floor = this.last = opts.oldSpaceUsed();
  }

  /** Collects if the burst is over and left enough behind; true when it did. */
  check(): boolean {
    const used = this.opts.oldSpaceUsed();
    // Smaller than at the last check: a full collection ran (V8's or ours).
    if (used < this.last) this.floor = used;
    const quiet = used - this.last < this.quiet;
    this.last = used;
    if (!quiet || used - this.floor < Math.max(this.minGrowth, this.floor)) return false;
    this.opts.collect();
    // Not again before it shows: the next smaller reading sets the floor.
    this.floor = used;
    return true;
  }
}

/**
 * Checks the process's old space every 10 s with an OldSpaceCollector whose collection is V8's
 * incremental full GC (marking runs beside the program, as V8's own; the gc function comes from
 * a context of its own, so no `gc` global appears). Returns a function that stops it.
 */
export function startOldSpaceCollector(intervalMs = 10_000): () => void {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as (opts: { type: "major"; execution: "async" }) => Promise<void>;
  const collector = new OldSpaceCollector({
    oldSpaceUsed: () => getHeapSpaceStatistics().find((s) => s.space_name === "old_space")?.space_used_size ?? 0,
    collect: () => void gc({ type: "major", execution: "async" }),
  });
  const timer = setInterval(() => collector.check(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Runs one service as its own process (cluster mode): validated configuration (with
 * `--check-config` or CAAS_CHECK_CONFIG=1 only that: see startConfig), peers from configuration,
 * one listener, and a graceful stop on SIGTERM/SIGINT.
 */
export async function runStandalone(name: ServiceName, factory: ServiceFactory): Promise<RunningService> {
  // Every setting this service needs is checked before anything opens; `--check-config` prints
  // the resolved settings and exits here.
  const config = startConfig(name);
  const logger = createLogger({ service: name, instance: config.instanceId, level: config.logLevel });
  const peers = PeerDirectory.fromConfig(config);
  const bus = await createEventBusForConfig(config, logger, systemClock);
  // The process's deny-set, fed from auth events in a group of this instance's own.
  const revocations = new RevocationSet(systemClock);
  const feed = await startRevocationFeed({ bus, set: revocations, group: `revocations.${name}.${config.instanceId}`, logger });
  const serviceSecret = await loadServiceSecretRoot({ mode: config.mode, dataDir: config.dataDir, env: config.serviceSecret });
  // Revocations still in force, before the first call: a restarted verifier must not accept a
  // revoked session's token while the feed catches up (the auth service loads its own store).
  if (name !== "auth" && serviceSecret) await loadRevocationsFromAuth({ set: revocations, service: name, root: serviceSecret, peers, clock: systemClock, logger });
  const definition = await factory({ config, logger, clock: systemClock, peers, bus, revocations, serviceSecret });
  const principalResolver = createMeshPrincipalResolver({ peers, clock: systemClock, revocations, serviceAudience: name });
  const running = await startServiceHost({ definition, config, logger, bus, clock: systemClock, principalResolver });
  if (peers.get(name).length === 0) peers.set(name, [running.url]);
  const stop = (signal: string) => {
    logger.info({ signal }, "shutting down");
    running
      .close()
      .then(() => feed.close())
      .then(() => bus.close())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, "shutdown failed");
          process.exit(1);
        },
      );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
  return running;
}
