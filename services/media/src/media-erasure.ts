import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { EraseUserDataResponseSchema, type EraseUserDataRequest, type EraseUserDataResponse } from "@caas/gen/caas/media/v1/media_internal_service_pb.js";
import { InvalidArgumentError } from "@caas/shared/errors";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import { uploadBlobKeyOf, type MediaDeps } from "./media-core.js";
import { requireService } from "./media-internal-service.js";
import { MAX_LINKS_PAGE } from "./ports/media-store.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const USER_ID = /^[A-Za-z0-9_.@:-]{1,128}$/;

function invalid(field: string, description: string): InvalidArgumentError {
  return new InvalidArgumentError(`${field}: ${description}`, [{ field, description }]);
}

/**
 * MediaInternalService.EraseUserData, for the compliance service's erasures: a page of the user's
 * records loses its bytes (the upload key and the ready key), then each record and its links are
 * removed for good. Bytes go before the row, so a crash in between leaves a row that the next call
 * finds and finishes; deleting a missing blob does nothing.
 */
export async function eraseMediaOfUser(deps: MediaDeps, req: EraseUserDataRequest, ctx: HandlerContext): Promise<EraseUserDataResponse> {
  requireService(ctx);
  if (!UUID.test(req.tenantId)) throw invalid("tenant_id", "must be a lowercase UUID");
  if (!USER_ID.test(req.userId)) throw invalid("user_id", "must be a user id");
  const scope = scopeForAdmin(req.tenantId);
  const limit = req.pageSize === 0 ? MAX_LINKS_PAGE : Math.min(req.pageSize, MAX_LINKS_PAGE);
  const records = await deps.store.ofOwner(scope, req.userId, { limit });
  for (const r of records) {
    await deps.blobs.delete(scope, uploadBlobKeyOf(r.id));
    if (r.blobKey !== "" && r.blobKey !== uploadBlobKeyOf(r.id)) await deps.blobs.delete(scope, r.blobKey);
    await deps.store.remove(scope, r.id);
  }
  return create(EraseUserDataResponseSchema, { mediaErased: BigInt(records.length), more: records.length === limit });
}
