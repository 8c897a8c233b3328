import type { ConnectRouter } from "@connectrpc/connect";
import { MediaInternalService } from "@caas/gen/caas/media/v1/media_internal_service_pb.js";
import { MediaService } from "@caas/gen/caas/media/v1/media_service_pb.js";
import { eraseMediaOfTenant, eraseMediaOfUser } from "./media-erasure.js";
import type { MediaImpls } from "./media-impls.js";

/** Registers MediaService and MediaInternalService on a router. */
export function registerMediaRoutes(router: ConnectRouter, impls: MediaImpls): void {
  router.service(MediaService, impls.media);
  const { internal, exports } = impls;
  router.service(MediaInternalService, {
    attachMedia: internal.attachMedia.bind(internal),
    detachMedia: internal.detachMedia.bind(internal),
    expireMedia: internal.expireMedia.bind(internal),
    exportUserData: exports.exportUserData.bind(exports),
    putExportPart: exports.putExportPart.bind(exports),
    sealExport: exports.sealExport.bind(exports),
    presignExportDownload: exports.presignExportDownload.bind(exports),
    deleteExport: exports.deleteExport.bind(exports),
    eraseUserData: (req, ctx) => eraseMediaOfUser(impls.deps, req, ctx),
    eraseTenantData: (req, ctx) => eraseMediaOfTenant(impls.deps, req, ctx),
  });
}
