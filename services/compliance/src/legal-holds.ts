import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { AuditOutcome } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import { LegalHoldKind, LegalHoldSchema, type LegalHold } from "@caas/gen/caas/compliance/v1/retention_service_pb.js";
import type { Clock } from "@caas/shared/clock";
import { FailedPreconditionError, NotFoundError } from "@caas/shared/errors";
import { scopeForAdmin, type TenantScope } from "@caas/shared/tenant-scope";
import type { AuditAppender } from "./audit-appender.js";
import { holdSetOf, type HoldSet } from "./domain/retention-policy.js";
import type { LegalHoldRecord, RetentionStore } from "./ports/retention-store.js";
import { invalidField } from "./retention-admin.js";
import { COMPLIANCE_SOURCE, type RunActor } from "./retention-sweeper.js";

const USER_ID = /^[A-Za-z0-9_.@:-]{1,128}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const KIND_OF: Partial<Record<LegalHoldKind, LegalHoldRecord["kind"]>> = {
  [LegalHoldKind.USER]: "user",
  [LegalHoldKind.CONVERSATION]: "conversation",
  [LegalHoldKind.TENANT]: "tenant",
};
const API_KIND: Record<LegalHoldRecord["kind"], LegalHoldKind> = { user: LegalHoldKind.USER, conversation: LegalHoldKind.CONVERSATION, tenant: LegalHoldKind.TENANT };

/** Who made the change, for the audit record. */
export interface HoldCaller {
  scope: TenantScope;
  actor: RunActor;
  correlationId: string;
}

/**
 * Legal holds: placed on a user, a conversation or the whole tenant (the target must exist in
 * the tenant: NOT_FOUND otherwise, as for any id of another tenant), released once, each change
 * audited (`compliance.legal_hold.place` / `.release`; the free-text reason is not recorded).
 * Retention sweeps and erasures read the active ones (`activeFor`).
 */
export class LegalHolds {
  constructor(
    private readonly deps: {
      store: RetentionStore;
      appender: AuditAppender;
      clock: Clock;
      userExists(tenantId: string, userId: string): Promise<boolean>;
      conversationExists(tenantId: string, conversationId: string): Promise<boolean>;
    },
  ) {}

  async place(caller: HoldCaller, req: { kind: LegalHoldKind; targetId: string; reason: string }): Promise<LegalHold> {
    const kind = KIND_OF[req.kind];
    if (!kind) throw invalidField("kind", "USER, CONVERSATION or TENANT");
    if (req.reason.length > 500) throw invalidField("reason", "at most 500 characters");
    const tenantId = caller.scope.tenantId;
    if (kind === "tenant" && req.targetId !== "") throw invalidField("target_id", "a tenant hold names no target");
    if (kind === "user") {
      if (!USER_ID.test(req.targetId)) throw invalidField("target_id", "a user id (^[A-Za-z0-9_.@:-]{1,128}$)");
      if (!(await this.deps.userExists(tenantId, req.targetId))) throw new NotFoundError("user");
    }
    if (kind === "conversation") {
      if (!UUID.test(req.targetId)) throw invalidField("target_id", "a conversation id (a lowercase UUID)");
      if (!(await this.deps.conversationExists(tenantId, req.targetId))) throw new NotFoundError("conversation");
    }
    const now = this.deps.clock.nowMs();
    const record: LegalHoldRecord = { tenantId, id: randomUUID(), kind, targetId: req.targetId, reason: req.reason, createTimeMs: now, releaseTimeMs: 0 };
    const { hold, created } = await this.deps.store.placeHold(caller.scope, record);
    if (created) await this.audit(caller, hold, "place", now);
    return holdView(hold);
  }

  async release(caller: HoldCaller, holdId: string): Promise<LegalHold> {
    if (!UUID.test(holdId)) throw invalidField("hold_id", "must be a lowercase UUID");
    const now = this.deps.clock.nowMs();
    const released = await this.deps.store.releaseHold(caller.scope, holdId, now);
    if (!released) throw new NotFoundError("legal hold");
    if (!released.changed) throw new FailedPreconditionError(`legal hold ${holdId} was already released`);
    await this.audit(caller, released.hold, "release", now);
    return holdView(released.hold);
  }

  async list(scope: TenantScope, includeReleased: boolean): Promise<LegalHold[]> {
    return (await this.deps.store.holds(scope, { includeReleased })).map(holdView);
  }

  /** The tenant's active holds. */
  async activeFor(tenantId: string): Promise<HoldSet> {
    return holdSetOf(await this.deps.store.holds(scopeForAdmin(tenantId), { includeReleased: false }));
  }

  private async audit(caller: HoldCaller, hold: LegalHoldRecord, change: "place" | "release", nowMs: number): Promise<void> {
    await this.deps.appender.append(caller.scope, {
      sourceEventId: `legal-hold:${hold.id}:${change}`,
      source: COMPLIANCE_SOURCE,
      eventTimeMs: nowMs,
      actor: caller.actor,
      action: `compliance.legal_hold.${change}`,
      target: hold.kind === "tenant" ? { type: "tenant", id: hold.tenantId } : { type: hold.kind, id: hold.targetId, ...(hold.kind === "conversation" ? { conversationId: hold.targetId } : {}) },
      outcome: AuditOutcome.SUCCESS,
      correlationId: caller.correlationId,
      details: { hold_id: hold.id, kind: hold.kind },
    });
  }
}

/** The API view of a stored hold. */
export function holdView(h: LegalHoldRecord): LegalHold {
  return create(LegalHoldSchema, {
    id: h.id,
    kind: API_KIND[h.kind],
    targetId: h.targetId,
    reason: h.reason,
    createTime: timestampFromMs(h.createTimeMs),
    ...(h.releaseTimeMs > 0 ? { releaseTime: timestampFromMs(h.releaseTimeMs) } : {}),
  });
}
