import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createClient, createRouterTransport, type Client, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { MediaInternalService } from "@caas/gen/caas/media/v1/media_internal_service_pb.js";
import { MediaService } from "@caas/gen/caas/media/v1/media_service_pb.js";
import { ChatInternalServiceImpl, ChatServiceImpl, openChatStores } from "@caas/chat/testing";
import { createErrorInterceptor } from "@caas/shared/interceptors/errors";
import { createInternalServiceInterceptor } from "@caas/shared/identity/internal-guard";
import { createMemoryRateLimiter } from "@caas/shared/rate-limiting/memory";
import { systemClock, FakeClock } from "@caas/shared/clock";
import { createValidationInterceptor } from "@caas/shared/interceptors/validation";
import { PageTokenCodec } from "@caas/shared/page-token";
import { principalKey, type Principal } from "@caas/shared/context";
import { createFsBlobHttpHandler } from "../../src/adapters/blob-store-fs-http.js";
import { createFsBlobStore } from "../../src/adapters/blob-store-fs.js";
import { createS3BlobStore } from "../../src/adapters/blob-store-s3.js";
import type { BlobStore } from "../../src/ports/blob-store.js";
import { createChatConversationAccess } from "../../src/adapters/conversation-access-grpc.js";
import type { MediaDeps } from "../../src/media-core.js";
import { createMediaImpls } from "../../src/media-impls.js";
import { openMediaStore, type MediaBackend } from "../../src/media-stores.js";
import type { MediaStore } from "../../src/ports/media-store.js";
import { registerMediaRoutes } from "../../src/routes.js";

/** Test-only header naming the caller `<tenant>/<user>` or `svc:<name>` (the real host verifies a JWT instead). */
const PRINCIPAL_HEADER = "x-test-principal";

function principalInterceptor(): Interceptor {
  return (next) => async (req) => {
    const named = req.header.get(PRINCIPAL_HEADER);
    if (named?.startsWith("svc:")) req.contextValues.set(principalKey, { kind: "service", service: named.slice(4) });
    else if (named) {
      const [tenantId, userId] = named.split("/") as [string, string];
      req.contextValues.set(principalKey, { kind: "user", tenantId, userId, sessionId: `s-${userId}`, deviceId: "d1", scopes: [], roles: [] } satisfies Principal);
    }
    return next(req);
  };
}

/** Clients over in-memory routes with the host's error mapping, internal guard and validation. */
function clientFor<S extends typeof MediaService | typeof MediaInternalService | typeof ChatService | typeof ChatInternalService>(
  service: S,
  register: (router: ConnectRouter) => void,
  who: string | undefined,
): Client<S> {
  const headers: Interceptor = (next) => (req) => {
    if (who) req.header.set(PRINCIPAL_HEADER, who);
    return next(req);
  };
  return createClient(
    service,
    createRouterTransport(register, {
      transport: { interceptors: [headers] },
      router: { interceptors: [createErrorInterceptor(), principalInterceptor(), createInternalServiceInterceptor(), createValidationInterceptor()] },
    }),
  );
}

/**
 * The media service in-process over real adapters: a SQLite store, the filesystem blob store
 * with its signed URLs served by a real HTTP server on port 0, and chat (its own SQLite stores)
 * answering CheckAccess in-process.
 */
export interface MediaWorld {
  tenantId: string;
  clock: FakeClock;
  store: MediaStore;
  blobs: BlobStore;
  /** The ports the RPCs run on (e.g. to build a MediaSweeper over them). */
  deps: MediaDeps;
  /** MediaService as `<user>` of `tenantId` (or another tenant), or anonymous. */
  media(userId?: string, tenantId?: string): Client<typeof MediaService>;
  /** MediaInternalService as `svc:<name>`, or as a user when `who` has a "/". */
  internal(who?: string): Client<typeof MediaInternalService>;
  /** ChatService as `<user>` (to make conversations). */
  chat(userId: string): Client<typeof ChatService>;
  close(): Promise<void>;
}

export interface MediaWorldOptions {
  maxUploadBytes?: number;
  /** The media store's backend (default: a fresh SQLite file under `dir`). */
  backend?: MediaBackend;
  /** Blobs on this S3 bucket instead of the filesystem (the clock is then the real one: S3 judges expiry by its own). */
  s3?: { endpoint: string; publicEndpoint?: string; accessKey: string; secretKey: string; region: string; bucket: string };
}

export async function openMediaWorld(dir: string, opts: MediaWorldOptions = {}): Promise<MediaWorld> {
  const clock = new FakeClock(Date.now());
  const tenantId = randomUUID();
  const id = randomUUID();
  const store = await openMediaStore(opts.backend ?? { kind: "sqlite", path: join(dir, `media-${id}.db`) });
  const chatStores = await openChatStores({ kind: "sqlite", path: join(dir, `chat-${id}.db`) }, { clock });
  const pageTokens = new PageTokenCodec(randomBytes(32));
  const chatImpl = new ChatServiceImpl({ stores: chatStores, clock, pageTokens, rateLimiter: createMemoryRateLimiter({ clock }) });
  const chatInternal = new ChatInternalServiceImpl({ stores: chatStores, pageTokens });
  const registerChat = (r: ConnectRouter) => {
    r.service(ChatService, chatImpl);
    r.service(ChatInternalService, chatInternal);
  };
  const chatAsMedia = clientFor(ChatInternalService, registerChat, "svc:media");

  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  let blobs: BlobStore;
  if (opts.s3) {
    blobs = await createS3BlobStore({ ...opts.s3, clock: systemClock, maxUploadBytes: opts.maxUploadBytes ?? 1024 * 1024 });
  } else {
    const fs = createFsBlobStore({
      root: join(dir, `blobs-${id}`),
      publicBaseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/blobs`,
      secret: randomBytes(32),
      clock,
      maxUploadBytes: opts.maxUploadBytes ?? 1024 * 1024,
    });
    server.on("request", createFsBlobHttpHandler(fs));
    blobs = fs;
  }

  const deps: MediaDeps = {
    store,
    blobs,
    clock: opts.s3 ? systemClock : clock,
    access: createChatConversationAccess((req) => chatAsMedia.checkAccess(req)),
    maxUploadBytes: opts.maxUploadBytes ?? 1024 * 1024,
  };
  const impls = createMediaImpls(deps);
  const registerMedia = (r: ConnectRouter) => registerMediaRoutes(r, impls);
  return {
    tenantId,
    clock,
    store,
    blobs,
    deps,
    media: (userId, tenant = tenantId) => clientFor(MediaService, registerMedia, userId ? `${tenant}/${userId}` : undefined),
    internal: (who) => clientFor(MediaInternalService, registerMedia, who),
    chat: (userId) => clientFor(ChatService, registerChat, `${tenantId}/${userId}`),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
      await chatStores.close();
    },
  };
}
