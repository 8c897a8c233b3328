import type { MediaDeps } from "./media-core.js";
import { MediaExportOps } from "./media-exports.js";
import { MediaInternalServiceImpl } from "./media-internal-service.js";
import { MediaServiceImpl } from "./media-service.js";

/** The media RPC implementations over one set of ports. */
export interface MediaImpls {
  media: MediaServiceImpl;
  internal: MediaInternalServiceImpl;
  exports: MediaExportOps;
  /** The ports they run on (MediaInternalService.EraseUserData uses them directly). */
  deps: MediaDeps;
}

/**
 * Builds MediaService and MediaInternalService over given ports: the composition root passes
 * the configured store, blob store and chat access; other services' tests build the real thing
 * in-process (e.g. a SQLite store from `openMediaStore`, `createFsBlobStore` in a temp dir and
 * `createChatConversationAccess` over their own CheckAccess).
 */
export function createMediaImpls(deps: MediaDeps): MediaImpls {
  return { media: new MediaServiceImpl(deps), internal: new MediaInternalServiceImpl(deps), exports: new MediaExportOps(deps), deps };
}
