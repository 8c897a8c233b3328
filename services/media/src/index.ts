import { MediaInternalService } from "@caas/gen/caas/media/v1/media_internal_service_pb.js";
import { MediaService } from "@caas/gen/caas/media/v1/media_service_pb.js";
import type { ServiceContext } from "@caas/shared/service-runtime";
import type { ServiceDefinition } from "@caas/shared/server/service-host";
import { checkAccessOverMesh, createChatConversationAccess } from "./adapters/conversation-access-grpc.js";
import { openMediaBlobsForConfig } from "./media-blobs.js";
import type { MediaDeps } from "./media-core.js";
import { mediaDeletedPublisher } from "./media-events.js";
import { createMediaImpls } from "./media-impls.js";
import { openMediaStoreForConfig } from "./media-stores.js";
import { DEFAULT_SWEEP_GRACE_MS, MediaSweeper } from "./media-sweeper.js";
import { registerMediaRoutes } from "./routes.js";

/**
 * The media service: presigned uploads and downloads (MediaService), attachment links for chat
 * (MediaInternalService). The store (SQLite / MongoDB) and the blob store (filesystem with
 * signed URLs served on this listener / S3) come from the run mode; who may read attached
 * media is asked of chat's CheckAccess with media's service token. A sweeper removes uploads
 * abandoned past their form's expiry (CAAS_MEDIA_SWEEP_INTERVAL_MS).
 */
export async function createMediaService(ctx: ServiceContext): Promise<ServiceDefinition> {
  const { config, logger, clock, peers, serviceSecret } = ctx;
  if (!serviceSecret) throw new Error("the media service needs CAAS_SERVICE_SECRET: it asks chat who may read attached media with a service token");
  const blobs = await openMediaBlobsForConfig({ config, logger, clock, serviceSecret });
  const store = await openMediaStoreForConfig(config, logger);
  const deps: MediaDeps = {
    store,
    blobs: blobs.store,
    clock,
    access: createChatConversationAccess(checkAccessOverMesh({ peers, serviceSecret, clock })),
    maxUploadBytes: config.media.maxUploadBytes,
    publishDeleted: mediaDeletedPublisher(ctx.bus, clock),
  };
  const impls = createMediaImpls(deps);
  const sweeper = new MediaSweeper({ deps, logger });
  return {
    name: "media",
    services: [MediaService, MediaInternalService],
    register: (router) => registerMediaRoutes(router, impls),
    httpPrefixRoutes: blobs.httpPrefixRoutes,
    start: async (bound) => {
      await blobs.bind(bound?.url);
      sweeper.start(config.media.sweepIntervalMs);
      logger.info({ intervalMs: config.media.sweepIntervalMs, graceMs: DEFAULT_SWEEP_GRACE_MS }, config.media.sweepIntervalMs > 0 ? "media upload sweeper started" : "media upload sweeper off");
    },
    drain: () => sweeper.stop(),
    close: async () => {
      await sweeper.stop();
      await store.close();
    },
  };
}
