import { createAuthService } from "@caas/auth";
import { createChatService } from "@caas/chat";
import { createComplianceService } from "@caas/compliance";
import { createCryptoService } from "@caas/crypto";
import { createGatewayService } from "@caas/gateway";
import { createMediaService } from "@caas/media";
import { createSearchService } from "@caas/search";
import { createEventBusForConfig } from "@caas/shared/eventing/select";
import { createMeshJwtVerifier, createMeshPrincipalResolver } from "@caas/shared/identity/mesh-resolver";
import { loadServiceSecretRoot } from "@caas/shared/identity/service-tokens";
import { createLogger, type Logger } from "@caas/shared/logger";
import { PeerDirectory } from "@caas/shared/clients";
import { RevocationSet, startRevocationFeed } from "@caas/shared/identity/revocations";
import { SERVICE_NAMES, type Config, type ServiceName } from "@caas/shared/config";
import { startServiceHost, type RunningService } from "@caas/shared/server/service-host";
import { systemClock, type Clock } from "@caas/shared/clock";
import type { ServiceFactory } from "@caas/shared/service-runtime";
import { createSocketService } from "@caas/socket";
import type { DestinationStream } from "pino";

/** The one place that maps service names to their factories. */
export const SERVICE_FACTORIES: Record<ServiceName, ServiceFactory> = {
  gateway: createGatewayService,
  auth: createAuthService,
  chat: createChatService,
  socket: createSocketService,
  media: createMediaService,
  search: createSearchService,
  compliance: createComplianceService,
  crypto: createCryptoService,
};

export interface EmbeddedPlatform {
  services: RunningService[];
  peers: PeerDirectory;
  url(name: ServiceName): string;
  close(): Promise<void>;
}

export interface EmbeddedOptions {
  config: Config;
  clock?: Clock;
  /** Where log lines go (default stdout). */
  logDestination?: DestinationStream;
}

/**
 * Starts every service in this process (embedded mode). Each service keeps its own port, logger
 * and store; peers call each other through generated clients as in cluster mode, handed to the
 * peer's handlers in memory (CAAS_MESH_TRANSPORT=in-process, the default) or over loopback HTTP/2
 * (`http2`). The directory is filled in as each listener binds, so ports may be 0.
 */
export async function startEmbeddedPlatform(opts: EmbeddedOptions): Promise<EmbeddedPlatform> {
  const { config } = opts;
  const clock = opts.clock ?? systemClock;
  const peers = new PeerDirectory();
  const platformLogger = createLogger({ service: "platform", instance: config.instanceId, level: config.logLevel, destination: opts.logDestination });
  // One bus for the whole process: every service of the embedded platform shares the SQLite log.
  const bus = await createEventBusForConfig(config, platformLogger, clock);
  // One deny-set for the process, fed from auth events; the auth service shares it.
  const revocations = new RevocationSet(clock);
  const feed = await startRevocationFeed({ bus, set: revocations, group: `revocations.platform.${config.instanceId}`, logger: platformLogger });
  // Every service verifies tokens the same way, over one key cache for the process; each resolver
  // accepts the service tokens addressed to its own service (the auth service brings its own
  // resolver, which also knows API keys and the admin credential).
  const verifier = createMeshJwtVerifier({ peers, clock });
  const serviceSecret = await loadServiceSecretRoot({ mode: config.mode, dataDir: config.dataDir, env: config.serviceSecret });
  const running: RunningService[] = [];
  const loggers: Logger[] = [];
  try {
    for (const name of SERVICE_NAMES) {
      const logger = createLogger({
        service: name,
        instance: config.instanceId,
        level: config.logLevel,
        destination: opts.logDestination,
      });
      loggers.push(logger);
      const definition = await SERVICE_FACTORIES[name]({ config, logger, clock, peers, bus, revocations, serviceSecret });
      const principalResolver = createMeshPrincipalResolver({ peers, clock, revocations, serviceAudience: name, verifier });
      const service = await startServiceHost({ definition, config, logger, bus, clock, principalResolver });
      peers.set(name, [service.url]);
      // Peers in this process are called in memory through the service's own handlers (ADR 0185).
      if (config.meshTransport === "in-process") peers.setInProcess(service.url, service.inProcess);
      running.push(service);
    }
  } catch (err) {
    for (const s of running.reverse()) await s.close();
    await feed.close();
    await bus.close();
    throw err;
  }
  return {
    services: running,
    peers,
    url(name) {
      const url = peers.get(name)[0];
      if (!url) throw new Error(`service ${name} is not running`);
      return url;
    },
    async close() {
      // The edge first, so no new work arrives while the owners drain.
      for (const s of [...running].reverse()) await s.close();
      await feed.close();
      await bus.close();
      for (const l of loggers) l.flush();
    },
  };
}
