import type { DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { createMeshPrincipalResolver } from "./auth/mesh-resolver.js";
import { createEventBusForConfig } from "./bus/bus-factory.js";
import type { EventBus } from "./bus/event-bus.js";
import { PeerDirectory } from "./clients.js";
import { systemClock, type Clock } from "./clock.js";
import { ConfigError, loadConfig, type Config, type ServiceName } from "./config.js";
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
    const error = () =>
      new UnimplementedError(`${service.typeName}/${method.name} is not built yet (${issue})`);
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
 * Runs one service as its own process (cluster mode): validated configuration, peers from
 * configuration, one listener, and a graceful stop on SIGTERM/SIGINT.
 */
export async function runStandalone(name: ServiceName, factory: ServiceFactory): Promise<RunningService> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${name}: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const logger = createLogger({ service: name, instance: config.instanceId, level: config.logLevel });
  const peers = PeerDirectory.fromConfig(config);
  const bus = await createEventBusForConfig(config, logger, systemClock);
  const definition = await factory({ config, logger, clock: systemClock, peers, bus });
  const principalResolver = createMeshPrincipalResolver({ peers, clock: systemClock });
  const running = await startServiceHost({ definition, config, logger, bus, clock: systemClock, principalResolver });
  if (peers.get(name).length === 0) peers.set(name, [running.url]);
  const stop = (signal: string) => {
    logger.info({ signal }, "shutting down");
    running.close().then(() => bus.close()).then(
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
