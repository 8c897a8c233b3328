import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  EraseTenantDataResponseSchema,
  EraseUserDataResponseSchema,
  type EraseTenantDataRequest,
  type EraseTenantDataResponse,
  type EraseUserDataRequest,
  type EraseUserDataResponse,
} from "@caas/gen/caas/media/v1/media_internal_service_pb.js";
import { InvalidArgumentError } from "@caas/shared/errors";
import { scopeForAdmin, type TenantScope } from "@caas/shared/tenant-scope";
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
 * finds and finishes; deleting a missing blob does nothing. Media attached to a conversation under
 * a legal hold (held_conversation_ids) is left in place and the conversation reported.
 */
export async function eraseMediaOfUser(deps: MediaDeps, req: EraseUserDataRequest, ctx: HandlerContext): Promise<EraseUserDataResponse> {
  requireService(ctx);
  if (!UUID.test(req.tenantId)) throw invalid("tenant_id", "must be a lowercase UUID");
  if (!USER_ID.test(req.userId)) throw invalid("user_id", "must be a user id");
  if (req.pageToken !== "" && !UUID.test(req.pageToken)) throw invalid("page_token", "must be a next_page_token of this RPC");
  const scope = scopeForAdmin(req.tenantId);
  const limit = req.pageSize === 0 ? MAX_LINKS_PAGE : Math.min(req.pageSize, MAX_LINKS_PAGE);
  const held = new Set(req.heldConversationIds);
  const records = await deps.store.ofOwner(scope, req.userId, { limit, ...(req.pageToken ? { after: req.pageToken } : {}) });
  const skipped = new Set<string>();
  let erased = 0;
  for (const r of records) {
    // A legal hold on any conversation the file is attached to keeps the file (bytes and row).
    const holding = held.size > 0 ? (await linkedConversationsOf(deps, scope, r.id)).filter((c) => held.has(c)) : [];
    if (holding.length > 0) {
      for (const c of holding) skipped.add(c);
      continue;
    }
    await deps.blobs.delete(scope, uploadBlobKeyOf(r.id));
    if (r.blobKey !== "" && r.blobKey !== uploadBlobKeyOf(r.id)) await deps.blobs.delete(scope, r.blobKey);
    await deps.store.remove(scope, r.id);
    erased++;
  }
  const more = records.length === limit;
  // Ordered by id: what was removed lies before the cursor, what was kept is passed over.
  return create(EraseUserDataResponseSchema, { mediaErased: BigInt(erased), more, skippedConversationIds: [...skipped].sort(), nextPageToken: more ? records[records.length - 1]!.id : "" });
}

/**
 * MediaInternalService.EraseTenantData, for the compliance service's tenant deletion: a page of
 * the tenant's records, whoever uploaded them, loses its bytes and is removed with its links.
 * Removed records leave the listing, so each call takes the next ones; bytes go before the row,
 * so a crash in between leaves a row the next call finishes.
 */
export async function eraseMediaOfTenant(deps: MediaDeps, req: EraseTenantDataRequest, ctx: HandlerContext): Promise<EraseTenantDataResponse> {
  requireService(ctx);
  if (!UUID.test(req.tenantId)) throw invalid("tenant_id", "must be a lowercase UUID");
  const scope = scopeForAdmin(req.tenantId);
  const limit = req.pageSize === 0 ? MAX_LINKS_PAGE : Math.min(req.pageSize, MAX_LINKS_PAGE);
  const records = await deps.store.ofTenant(scope, limit);
  for (const r of records) {
    await deps.blobs.delete(scope, uploadBlobKeyOf(r.id));
    if (r.blobKey !== "" && r.blobKey !== uploadBlobKeyOf(r.id)) await deps.blobs.delete(scope, r.blobKey);
    await deps.store.remove(scope, r.id);
  }
  return create(EraseTenantDataResponseSchema, { mediaErased: BigInt(records.length), more: records.length === limit });
}

async function linkedConversationsOf(deps: MediaDeps, scope: TenantScope, mediaId: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const page = await deps.store.linkedConversations(scope, mediaId, { limit: MAX_LINKS_PAGE, ...(out.length ? { after: out[out.length - 1] } : {}) });
    out.push(...page);
    if (page.length < MAX_LINKS_PAGE) return out;
  }
}
