import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { AuthInternalService } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { MessageKeysInternalService } from "@caas/gen/caas/chat/v1/message_keys_internal_service_pb.js";
import { RequestTenantDeletionResponseSchema, type RequestTenantDeletionRequest, type RequestTenantDeletionResponse } from "@caas/gen/caas/compliance/v1/privacy_service_pb.js";
import { MediaInternalService } from "@caas/gen/caas/media/v1/media_internal_service_pb.js";
import { SearchInternalService } from "@caas/gen/caas/search/v1/search_internal_service_pb.js";
import { createPeerClient, type PeerDirectory } from "@caas/shared/clients";
import type { Clock } from "@caas/shared/clock";
import { correlationIdKey, principalKey } from "@caas/shared/context";
import { InvalidArgumentError, PermissionDeniedError, UnauthenticatedError } from "@caas/shared/errors";
import { createPeerServiceTokenSource } from "@caas/shared/identity/service-tokens";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import { PLATFORM_TENANT } from "./audit-recorder.js";
import type { PrivacyJobStore } from "./ports/privacy-job-store.js";
import type { HoldLookup, PrivacyJobRunner, SelfAudit, TenantDeletionParts } from "./privacy-jobs.js";
import { refuseHeld } from "./privacy-jobs.js";
import { jobView } from "./privacy-service.js";
import { principalActor } from "./retention-admin.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Chat rows (per table), search documents, media records and users removed per call. */
const PAGE = { chat: 1000, search: 1000, media: 100, auth: 200 } as const;

/** The other services' tenant-deletion RPCs over the mesh (the export archives are compliance's own step), with compliance's service token for each; `markDeleted` is auth's first call (DeleteTenantData with page_size 0). */
export function createTenantDeletionPartsOverMesh(opts: { peers: PeerDirectory; serviceSecret: string; clock: Clock }): {
  parts: Omit<TenantDeletionParts, "exports">;
  markDeleted(tenantId: string): Promise<void>;
} {
  const tokens = createPeerServiceTokenSource({ service: "compliance", root: opts.serviceSecret, peers: opts.peers, clock: opts.clock });
  const headers = async (audience: string) => ({ authorization: `Bearer ${await tokens.token(audience)}` });
  const auth = createPeerClient(AuthInternalService, "auth", opts.peers, { defaultTimeoutMs: 60_000 });
  const keys = createPeerClient(MessageKeysInternalService, "chat", opts.peers, { defaultTimeoutMs: 60_000 });
  const chat = createPeerClient(ChatInternalService, "chat", opts.peers, { defaultTimeoutMs: 60_000 });
  const search = createPeerClient(SearchInternalService, "search", opts.peers, { defaultTimeoutMs: 60_000 });
  const media = createPeerClient(MediaInternalService, "media", opts.peers, { defaultTimeoutMs: 120_000 });
  // Each service removes what it handled, so every call starts from the top: the cursor only says "more".
  return {
    async markDeleted(tenantId) {
      await auth.deleteTenantData({ tenantId, pageSize: 0 }, { headers: await headers("auth") });
    },
    parts: {
      // The data keys first, so that nothing stored is readable whatever happens next; then the
      // tenant's rows (conversations, members, the log, ...), a page per call.
      async chat(tenantId, _userId, cursor) {
        const destroyed = cursor === "" ? (await keys.shredTenantKeys({ tenantId }, { headers: await headers("chat") })).destroyed : 0;
        const r = await chat.eraseTenantData({ tenantId, pageSize: PAGE.chat }, { headers: await headers("chat") });
        return { items: destroyed + Number(r.rowsRemoved), next: r.more ? "rows" : "" };
      },
      async search(tenantId) {
        const r = await search.eraseTenantData({ tenantId, pageSize: PAGE.search }, { headers: await headers("search") });
        return { items: Number(r.documentsRemoved), next: r.more ? "more" : "" };
      },
      async media(tenantId) {
        const r = await media.eraseTenantData({ tenantId, pageSize: PAGE.media }, { headers: await headers("media") });
        return { items: Number(r.mediaErased), next: r.more ? "more" : "" };
      },
      async auth(tenantId) {
        const r = await auth.deleteTenantData({ tenantId, pageSize: PAGE.auth }, { headers: await headers("auth") });
        return { items: r.usersRemoved + r.sessionsRevoked + r.apiKeysRevoked, next: r.more ? "more" : "" };
      },
    },
  };
}

/**
 * PrivacyService.RequestTenantDeletion: the platform admin only. Refused while anything of the
 * tenant is held; a deletion already requested (running, failed or done) is returned again and
 * kicked. Otherwise auth marks the tenant DELETED before the answer (NOT_FOUND for an unknown
 * tenant comes from there), the job is stored and started, and the request is recorded in the
 * platform's audit chain (the tenant's own chain ends with the tenant).
 */
export async function requestTenantDeletion(
  deps: { store: PrivacyJobStore; runner: PrivacyJobRunner; holds?: HoldLookup; audit?: SelfAudit; markDeleted(tenantId: string): Promise<void> },
  req: RequestTenantDeletionRequest,
  ctx: HandlerContext,
): Promise<RequestTenantDeletionResponse> {
  const p = ctx.values.get(principalKey);
  if (p.kind === "anonymous") throw new UnauthenticatedError("the platform-admin credential is required");
  if (p.kind !== "platform-admin") throw new PermissionDeniedError("only the platform admin deletes tenants");
  if (!UUID.test(req.tenantId)) throw new InvalidArgumentError("tenant_id: must be a lowercase UUID", [{ field: "tenant_id", description: "must be a lowercase UUID" }]);
  const scope = scopeForAdmin(req.tenantId);
  const latest = await deps.store.latest(scope, "tenant_deletion", "");
  if (latest) {
    void deps.runner.kick(latest);
    return create(RequestTenantDeletionResponseSchema, { job: jobView(latest) });
  }
  if (deps.holds) refuseHeld(await deps.holds(req.tenantId));
  await deps.markDeleted(req.tenantId);
  const made = await deps.store.create(scope, deps.runner.newTenantDeletion(req.tenantId));
  if (made.created) {
    await deps.audit?.(scopeForAdmin(PLATFORM_TENANT), {
      sourceEventId: `tenant_deletion:${made.job.id}:request`,
      action: "compliance.tenant_deletion.request",
      actor: principalActor(ctx),
      target: { type: "tenant", id: req.tenantId },
      correlationId: ctx.values.get(correlationIdKey),
      details: { job_id: made.job.id, ...(req.reason ? { reason: req.reason } : {}) },
    });
  }
  void deps.runner.kick(made.job);
  return create(RequestTenantDeletionResponseSchema, { job: jobView(made.job) });
}
