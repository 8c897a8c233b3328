import { createHmac } from "node:crypto";
import type http from "node:http";
import { join } from "node:path";
import { createFsBlobHttpHandler } from "./adapters/blob-store-fs-http.js";
import { createFsBlobStore } from "./adapters/blob-store-fs.js";
import { UnavailableError } from "@caas/shared/errors";
import type { Clock } from "@caas/shared/clock";
import type { Config } from "@caas/shared/config";
import type { HttpRoute } from "@caas/shared/server/service-host";
import type { Logger } from "@caas/shared/logger";
import type { BlobStore } from "./ports/blob-store.js";

/** Path of the embedded blob endpoint on media's own listener. */
export const BLOB_PATH = "/blobs/";

/** Blob directory under the data directory (embedded mode). */
export const BLOB_DIR = "blobs";

/** The media blob store of a run mode, and the HTTP route serving it (embedded mode only). */
export interface MediaBlobs {
  /** Usable from the start; in embedded mode it answers UNAVAILABLE until `bind` ran (the URLs need the bound address). */
  store: BlobStore;
  /** Prefix routes for the service host (the fs adapter's signed URLs, with CORS for browsers). */
  httpPrefixRoutes: Record<string, HttpRoute>;
  /** Called with the listener's base URL once it is bound (ServiceDefinition.start). */
  bind(boundUrl: string | undefined): Promise<void>;
}

/**
 * The one place the blob adapter is chosen: embedded mode keeps files under `<dataDir>/blobs`
 * with HMAC-signed URLs (the key derived from the service-secret root) served at `/blobs/` on
 * media's own listener, reachable at CAAS_MEDIA_PUBLIC_URL or media's bound address; cluster
 * mode uses the S3 bucket of CAAS_S3_* (presigned POST policies and GETs name CAAS_S3_PUBLIC_ENDPOINT,
 * or the endpoint).
 */
export async function openMediaBlobsForConfig(opts: { config: Config; logger: Logger; clock: Clock; serviceSecret: string }): Promise<MediaBlobs> {
  const { config, logger, clock } = opts;
  switch (config.mode) {
    case "embedded": {
      const late = lateBlobStore();
      const secret = createHmac("sha256", opts.serviceSecret).update("media:blob-urls", "utf8").digest();
      const root = join(config.dataDir, BLOB_DIR);
      let handler: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | undefined;
      return {
        store: late.store,
        httpPrefixRoutes: {
          [BLOB_PATH]: (req, res) => {
            if (!handler) {
              res.writeHead(503);
              res.end();
              return;
            }
            // Signed URLs are bearer capabilities (no cookies): any origin may use them (ADR 0010).
            res.setHeader("access-control-allow-origin", "*");
            res.setHeader("access-control-expose-headers", "ETag, Content-Disposition, Content-Length");
            if (req.method === "OPTIONS") {
              res.writeHead(204, { "access-control-allow-methods": "GET, POST", "access-control-allow-headers": "content-type", "access-control-max-age": "600" });
              res.end();
              return;
            }
            // Both the HTTP/1 and the HTTP/2 compatibility objects carry what the handler uses.
            handler(req as http.IncomingMessage, res as http.ServerResponse);
          },
        },
        bind: async (boundUrl) => {
          const base = config.media.publicUrl ?? (boundUrl ? `${boundUrl}${BLOB_PATH.slice(0, -1)}` : undefined);
          if (!base) throw new Error("the media service needs its bound URL or CAAS_MEDIA_PUBLIC_URL for blob URLs");
          const publicBaseUrl = base;
          const store = createFsBlobStore({ root, publicBaseUrl, secret, clock, maxUploadBytes: config.media.maxUploadBytes });
          handler = createFsBlobHttpHandler(store, { onError: (err) => logger.error({ err }, "blob request failed") });
          late.set(store);
          logger.info({ adapter: "fs", root, publicBaseUrl }, "media blob store");
        },
      };
    }
    case "cluster": {
      const c = config.cluster;
      if (!c.s3Endpoint || !c.s3AccessKey || !c.s3SecretKey) {
        throw new Error("the media service needs CAAS_S3_ENDPOINT, CAAS_S3_ACCESS_KEY and CAAS_S3_SECRET_KEY in cluster mode");
      }
      const publicEndpoint = c.s3PublicEndpoint;
      // Loaded here, not at import: the embedded mode never needs the minio client.
      const { createS3BlobStore } = await import("./adapters/blob-store-s3.js");
      const store = await createS3BlobStore({
        endpoint: c.s3Endpoint,
        ...(publicEndpoint !== undefined ? { publicEndpoint } : {}),
        accessKey: c.s3AccessKey,
        secretKey: c.s3SecretKey,
        region: c.s3Region,
        bucket: c.s3Bucket,
        clock,
        maxUploadBytes: config.media.maxUploadBytes,
      });
      logger.info({ adapter: "s3", endpoint: c.s3Endpoint, publicEndpoint: publicEndpoint ?? c.s3Endpoint, bucket: c.s3Bucket }, "media blob store");
      return { store, httpPrefixRoutes: {}, bind: async () => {} };
    }
  }
}

/** A BlobStore that forwards to one set later (UNAVAILABLE before). */
function lateBlobStore(): { store: BlobStore; set(store: BlobStore): void } {
  let target: BlobStore | undefined;
  const get = (): BlobStore => {
    if (!target) throw new UnavailableError("the media blob store is not ready yet");
    return target;
  };
  return {
    set: (store) => {
      target = store;
    },
    store: {
      presignUpload: (scope, key, o) => get().presignUpload(scope, key, o),
      presignDownload: (scope, key, o) => get().presignDownload(scope, key, o),
      stat: (scope, key) => get().stat(scope, key),
      get: (scope, key) => get().get(scope, key),
      put: (scope, key, body, o) => get().put(scope, key, body, o),
      copy: (scope, from, to, o) => get().copy(scope, from, to, o),
      delete: (scope, key) => get().delete(scope, key),
    },
  };
}
