import { join } from "node:path";
import { createClient, type Client } from "@connectrpc/connect";
import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { MediaInternalService } from "@caas/gen/caas/media/v1/media_internal_service_pb.js";
import type { Media } from "@caas/gen/caas/media/v1/media_pb.js";
import { MediaService } from "@caas/gen/caas/media/v1/media_service_pb.js";
import { blobKeyOf, createChatConversationAccess, createMediaImpls, openMediaStore, registerMediaRoutes, type MediaImpls } from "@caas/media/testing";
import { createFsBlobStore, type BlobStore } from "@caas/media/testing";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import type { FakeClock } from "@caas/shared/clock";
import { createGrpcMediaAttacher } from "../../src/adapters/media-attacher-grpc.js";
import type { MediaAttacher } from "../../src/ports/media-attacher.js";
import { registerChatRoutes } from "../../src/routes.js";
import type { Instance } from "./harness.js";
import { routerTransport, TEST_PRINCIPAL_HEADER } from "./router.js";

/** The largest upload of the in-process media service. */
export const TEST_MAX_UPLOAD_BYTES = 1 << 20;

/** A file to upload. */
export interface TestFile {
  name: string;
  mimeType: string;
  bytes: Uint8Array;
}

/**
 * The real media service in-process (its SQLite store and filesystem blobs in `dir`), wired both
 * ways to one chat instance as in the mesh, over in-memory routes with the host's validation and
 * error mapping: chat attaches through MediaInternalService as `svc:chat` (with the production
 * attacher), media asks chat's CheckAccess as `svc:media`.
 */
export interface MediaWorld {
  impls: MediaImpls;
  blobs: BlobStore;
  /** What chat is given (sqliteWorld's `media` option). */
  attacher: MediaAttacher;
  /** MediaService as a user of a tenant. */
  as(tenantId: string, userId: string): Client<typeof MediaService>;
  /** CreateUpload only: a PENDING media. */
  pending(tenantId: string, userId: string, file: TestFile): Promise<Media>;
  /** CreateUpload, the bytes stored, CompleteUpload: a READY media. */
  ready(tenantId: string, userId: string, file: TestFile): Promise<Media>;
  close(): Promise<void>;
}

/** `chat` is read on each CheckAccess: open the chat instance with `attacher` afterwards. */
export async function openMediaWorld(dir: string, clock: FakeClock, chat: () => Instance): Promise<MediaWorld> {
  const store = await openMediaStore({ kind: "sqlite", path: join(dir, `media-${Date.now()}-${Math.random().toString(36).slice(2)}.db`) });
  const blobs = createFsBlobStore({ root: join(dir, "blobs"), publicBaseUrl: "http://127.0.0.1:1/blobs", secret: "s".repeat(32), clock, maxUploadBytes: TEST_MAX_UPLOAD_BYTES });
  const chatInternal = () =>
    createClient(
      ChatInternalService,
      routerTransport((r) => registerChatRoutes(r, chat().impl, chat().internal), { headers: { [TEST_PRINCIPAL_HEADER]: "svc:media" } }),
    );
  const impls = createMediaImpls({
    store,
    blobs,
    clock,
    access: createChatConversationAccess((req) => chatInternal().checkAccess(req)),
    maxUploadBytes: TEST_MAX_UPLOAD_BYTES,
  });
  const register = (r: Parameters<typeof registerMediaRoutes>[0]) => registerMediaRoutes(r, impls);
  const internal = createClient(MediaInternalService, routerTransport(register, { headers: { [TEST_PRINCIPAL_HEADER]: "svc:chat" } }));
  // The in-memory routes take the principal from the test header; the bearer token is not read.
  const attacher = createGrpcMediaAttacher({ client: internal, serviceToken: async () => "tier-2" });
  const as = (tenantId: string, userId: string) => createClient(MediaService, routerTransport(register, { headers: { [TEST_PRINCIPAL_HEADER]: `${tenantId}/${userId}` } }));
  const pending = async (tenantId: string, userId: string, file: TestFile) =>
    (await as(tenantId, userId).createUpload({ name: file.name, mimeType: file.mimeType, sizeBytes: BigInt(file.bytes.length) })).media!;
  return {
    impls,
    blobs,
    attacher,
    as,
    pending,
    async ready(tenantId, userId, file) {
      const media = await pending(tenantId, userId, file);
      await blobs.put(scopeForAdmin(tenantId), blobKeyOf(media.id), file.bytes, { contentType: file.mimeType });
      return (await as(tenantId, userId).completeUpload({ mediaId: media.id })).media!;
    },
    close: () => store.close(),
  };
}
