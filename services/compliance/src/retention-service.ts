import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs, type Duration } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  RetentionCountsSchema,
  RetentionPolicySchema,
  type RetentionPolicy,
  type RetentionService,
  type DeleteRetentionPolicyRequest,
  type GetRetentionPolicyRequest,
  type ListLegalHoldsRequest,
  type PlaceLegalHoldRequest,
  type PreviewRetentionRequest,
  type ReleaseLegalHoldRequest,
  type RunRetentionRequest,
  type SetRetentionPolicyRequest,
} from "@caas/gen/caas/compliance/v1/retention_service_pb.js";
import type { Clock } from "@caas/shared/clock";
import { NotFoundError } from "@caas/shared/errors";
import type { TenantScope } from "@caas/shared/tenant-scope";
import { effectiveAges, withTenantSetting } from "./domain/retention-policy.js";
import type { LegalHolds } from "./legal-holds.js";
import type { RetentionPolicyRecord, RetentionStore } from "./ports/retention-store.js";
import { invalidField, optionalConversationId, retentionCallerOf } from "./retention-admin.js";
import type { RetentionSweeper, RetentionTally } from "./retention-sweeper.js";

/** The longest maximum age (10 years), as the proto says. */
const MAX_AGE_MS = 315_360_000_000;

/** What RetentionService needs. */
export interface RetentionServiceDeps {
  store: RetentionStore;
  sweeper: RetentionSweeper;
  holds: LegalHolds;
  clock: Clock;
  /** How long export archives are kept when the tenant's policy does not say (CAAS_EXPORT_ARCHIVE_TTL_MS). */
  defaultExportMaxAgeMs: number;
  /** The tenant's TenantSettings.message_retention in ms, 0 when unset (auth). */
  tenantMessageRetention(tenantId: string): Promise<number>;
  /** Whether the tenant has the conversation (chat). */
  conversationExists(tenantId: string, conversationId: string): Promise<boolean>;
}

/** caas.compliance.v1.RetentionService: policies, previews and runs over the sweeper, legal holds over LegalHolds. */
export class RetentionServiceImpl implements ServiceImpl<typeof RetentionService> {
  constructor(private readonly deps: RetentionServiceDeps) {}

  async setRetentionPolicy(req: SetRetentionPolicyRequest, ctx: HandlerContext) {
    const { scope } = retentionCallerOf(ctx, req.tenantId);
    if (!req.policy) throw invalidField("policy", "is required");
    const conversationId = optionalConversationId("policy.conversation_id", req.policy.conversationId);
    const messageMaxAgeMs = ageOf("policy.message_max_age", req.policy.messageMaxAge);
    const mediaMaxAgeMs = ageOf("policy.media_max_age", req.policy.mediaMaxAge);
    const exportMaxAgeMs = ageOf("policy.export_max_age", req.policy.exportMaxAge);
    if (conversationId && exportMaxAgeMs > 0) throw invalidField("policy.export_max_age", "only the tenant's policy sets it (export archives belong to a user, not a conversation)");
    if (messageMaxAgeMs === 0 && mediaMaxAgeMs === 0 && exportMaxAgeMs === 0)
      throw invalidField("policy", "set message_max_age, media_max_age or export_max_age (DeleteRetentionPolicy removes a policy)");
    await this.requireConversation(scope, conversationId);
    const record: RetentionPolicyRecord = { tenantId: scope.tenantId, conversationId, messageMaxAgeMs, mediaMaxAgeMs, exportMaxAgeMs, updateTimeMs: this.deps.clock.nowMs() };
    await this.deps.store.putPolicy(scope, record);
    return { policy: policyView(record, conversationId) };
  }

  async getRetentionPolicy(req: GetRetentionPolicyRequest, ctx: HandlerContext) {
    const { scope } = retentionCallerOf(ctx, req.tenantId);
    const conversationId = optionalConversationId("conversation_id", req.conversationId);
    await this.requireConversation(scope, conversationId);
    const tenantOwn = await this.deps.store.getPolicy(scope, "");
    // The effective ages count auth's TenantSettings.message_retention in, as the sweep does.
    const tenant = withTenantSetting(scope.tenantId, tenantOwn, await this.deps.tenantMessageRetention(scope.tenantId));
    const own = conversationId ? await this.deps.store.getPolicy(scope, conversationId) : tenantOwn;
    const effective = conversationId ? effectiveAges(tenant, own) : effectiveAges(tenant, undefined);
    // Export archives follow the tenant's age, else the platform default.
    const exportMaxAgeMs = conversationId ? 0 : tenant?.exportMaxAgeMs || this.deps.defaultExportMaxAgeMs;
    return { policy: policyView(own, conversationId), effective: policyView({ ...effective, exportMaxAgeMs, updateTimeMs: 0 }, conversationId) };
  }

  async deleteRetentionPolicy(req: DeleteRetentionPolicyRequest, ctx: HandlerContext) {
    const { scope } = retentionCallerOf(ctx, req.tenantId);
    const conversationId = optionalConversationId("conversation_id", req.conversationId);
    await this.deps.store.deletePolicy(scope, conversationId);
    return {};
  }

  async previewRetention(req: PreviewRetentionRequest, ctx: HandlerContext) {
    const { scope, actor } = retentionCallerOf(ctx, req.tenantId);
    const conversationId = optionalConversationId("conversation_id", req.conversationId);
    await this.requireConversation(scope, conversationId);
    const tally = await this.deps.sweeper.run(scope.tenantId, { actor, dryRun: true, ...(conversationId ? { conversationId } : {}) });
    return { counts: countsView(tally) };
  }

  async runRetention(req: RunRetentionRequest, ctx: HandlerContext) {
    const { scope, actor, correlationId } = retentionCallerOf(ctx, req.tenantId);
    const tally = await this.deps.sweeper.run(scope.tenantId, { actor, correlationId });
    return { counts: countsView(tally) };
  }

  async placeLegalHold(req: PlaceLegalHoldRequest, ctx: HandlerContext) {
    return { hold: await this.deps.holds.place(retentionCallerOf(ctx, req.tenantId), req) };
  }

  async releaseLegalHold(req: ReleaseLegalHoldRequest, ctx: HandlerContext) {
    return { hold: await this.deps.holds.release(retentionCallerOf(ctx, req.tenantId), req.holdId) };
  }

  async listLegalHolds(req: ListLegalHoldsRequest, ctx: HandlerContext) {
    const { scope } = retentionCallerOf(ctx, req.tenantId);
    return { holds: await this.deps.holds.list(scope, req.includeReleased) };
  }

  /** NOT_FOUND for a conversation the tenant does not have (another tenant's alike). */
  private async requireConversation(scope: TenantScope, conversationId: string): Promise<void> {
    if (conversationId && !(await this.deps.conversationExists(scope.tenantId, conversationId))) throw new NotFoundError("conversation");
  }
}

/** A maximum age in ms from a request (0 when unset); zero, negative and out-of-range ages are INVALID_ARGUMENT. */
function ageOf(field: string, d: Duration | undefined): number {
  if (!d) return 0;
  if (d.seconds < 1n || d.nanos < 0) throw invalidField(field, "must be at least 1 s (leave it unset for no limit)");
  const ms = Number(d.seconds) * 1000 + Math.floor(d.nanos / 1_000_000);
  if (ms > MAX_AGE_MS) throw invalidField(field, "must be at most 10 years");
  return ms;
}

function policyView(p: Pick<RetentionPolicyRecord, "messageMaxAgeMs" | "mediaMaxAgeMs" | "exportMaxAgeMs" | "updateTimeMs"> | undefined, conversationId: string): RetentionPolicy {
  return create(RetentionPolicySchema, {
    conversationId,
    ...(p?.messageMaxAgeMs ? { messageMaxAge: durationFromMs(p.messageMaxAgeMs) } : {}),
    ...(p?.mediaMaxAgeMs ? { mediaMaxAge: durationFromMs(p.mediaMaxAgeMs) } : {}),
    ...(p?.exportMaxAgeMs ? { exportMaxAge: durationFromMs(p.exportMaxAgeMs) } : {}),
    ...(p?.updateTimeMs ? { updateTime: timestampFromMs(p.updateTimeMs) } : {}),
  });
}

function countsView(t: RetentionTally) {
  return create(RetentionCountsSchema, {
    messages: BigInt(t.messages),
    media: BigInt(t.media),
    conversations: BigInt(t.conversations),
    heldConversations: BigInt(t.heldConversations),
    heldMessages: BigInt(t.heldMessages),
    exports: BigInt(t.exports),
  });
}
