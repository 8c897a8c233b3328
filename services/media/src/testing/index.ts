/**
 * What other services' tests use to run media in-process (chat's attachment tests): the
 * implementations, the store and blob store openers and the blob key layout. Not for production
 * code: a service reaches media over the mesh.
 */
export { createMediaImpls, type MediaImpls } from "../media-impls.js";
export { blobKeyOf } from "../media-core.js";
export { registerMediaRoutes } from "../routes.js";
export { createChatConversationAccess } from "../adapters/conversation-access-grpc.js";
export { openMediaStore } from "../media-stores.js";
export { createFsBlobStore } from "../adapters/blob-store-fs.js";
export type { BlobStore } from "../ports/blob-store.js";
