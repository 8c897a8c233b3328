import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  ExportAuditLogResponseSchema,
  type AuditService,
  type ExportAuditLogRequest,
  type ExportAuditLogResponse,
  type ListAuditEventsRequest,
  type VerifyAuditLogRequest,
} from "@caas/gen/caas/compliance/v1/audit_service_pb.js";
import { AuditBreakReason, type AuditCheckpoint, type AuditEvent } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import { InvalidArgumentError, PermissionDeniedError, UnauthenticatedError } from "@caas/shared/errors";
import { PageTokenCodec } from "@caas/shared/page-token";
import { correlationIdKey, principalKey } from "@caas/shared/context";
import { randomUUID } from "node:crypto";
import { PLATFORM_TENANT } from "./audit-recorder.js";
import type { SelfAudit } from "./privacy-jobs.js";
import { principalActor } from "./retention-admin.js";
import { scopeForAdmin, scopeFromVerifiedClaims, type TenantScope } from "@caas/shared/tenant-scope";
import type { AuditKeyManager } from "./audit-keys.js";
import type { AuditPseudonyms } from "./audit-pseudonyms.js";
import { exportCheckpointLine, exportHeaderLine, exportRecordLine } from "./audit-export.js";
import { GENESIS_HASH } from "./domain/audit-chain.js";
import { verifyChain, type ChainAnchor } from "./domain/audit-verify.js";
import { MAX_AUDIT_PAGE, type AuditFilter, type AuditStore } from "./ports/audit-store.js";

/** What AuditService needs. */
export interface AuditServiceDeps {
  store: AuditStore;
  keys: Pick<AuditKeyManager, "publicKeys">;
  pageTokens: PageTokenCodec;
  /** Resolves pseudonyms to user ids while linked (records keep raw ids without it). */
  pseudonyms?: AuditPseudonyms;
  /** Records a verification run (in the platform chain, never in the chain verified); none when absent. */
  recordVerification?: (record: Parameters<SelfAudit>[1]) => Promise<void>;
}

/** The tenant role that may read the audit log with a user access token. */
export const AUDIT_READER_ROLE = "admin";

const LAST = BigInt(Number.MAX_SAFE_INTEGER);
const BATCH = 1000;

/**
 * The tenant an AuditService call reads: a tenant API key's, a tenant admin's own (both may name
 * only their own tenant), or the one the platform admin names.
 */
export function auditScopeOf(ctx: HandlerContext, tenantId: string): TenantScope {
  const p = ctx.values.get(principalKey);
  const own = (tenant: string) => {
    if (tenantId && tenantId !== tenant) throw new PermissionDeniedError("a tenant reads its own audit log only");
    return scopeFromVerifiedClaims({ tenant });
  };
  switch (p.kind) {
    case "anonymous":
      throw new UnauthenticatedError("a tenant API key, a tenant admin's access token or the platform-admin credential is required");
    case "api-key":
      return own(p.tenantId);
    case "user":
      if (p.roles.includes(AUDIT_READER_ROLE)) return own(p.tenantId);
      throw new PermissionDeniedError("the audit log is for tenant admins");
    case "platform-admin":
      if (!tenantId) throw invalid("tenant_id", "the platform admin names the tenant to read");
      try {
        return scopeForAdmin(tenantId);
      } catch {
        throw invalid("tenant_id", "not a tenant id");
      }
    default:
      throw new PermissionDeniedError("the audit log is read with a tenant API key, a tenant admin's access token or the platform-admin credential");
  }
}

/** The caller may read some tenant's audit log (GetAuditPublicKeys). */
function requireReader(ctx: HandlerContext): void {
  const p = ctx.values.get(principalKey);
  if (p.kind === "platform-admin") return;
  auditScopeOf(ctx, "");
}

function invalid(field: string, description: string): InvalidArgumentError {
  return new InvalidArgumentError(`${field}: ${description}`, [{ field, description }]);
}

/** caas.compliance.v1.AuditService over the audit store. */
export class AuditServiceImpl implements ServiceImpl<typeof AuditService> {
  constructor(private readonly deps: AuditServiceDeps) {}

  async listAuditEvents(req: ListAuditEventsRequest, ctx: HandlerContext) {
    const scope = auditScopeOf(ctx, req.tenantId);
    const filter: AuditFilter = {
      ...(req.actorId ? { actorId: req.actorId } : {}),
      ...(req.action ? { action: req.action } : {}),
      ...(req.targetId ? { targetId: req.targetId } : {}),
      ...(req.startTime ? { startTimeMs: Number(timestampMs(req.startTime)) } : {}),
      ...(req.endTime ? { endTimeMs: Number(timestampMs(req.endTime)) } : {}),
    };
    if (filter.startTimeMs !== undefined && filter.endTimeMs !== undefined && filter.endTimeMs < filter.startTimeMs) {
      throw invalid("end_time", "must not be before start_time");
    }
    const size = req.pageSize === 0 ? 50 : Math.min(req.pageSize, MAX_AUDIT_PAGE);
    const binding = { tenantId: scope.tenantId, query: JSON.stringify(["list-audit-events", filter]) };
    const after = this.deps.pageTokens.decode<string>(binding, req.pageToken);
    // A user id matches the records made before pseudonyms (raw id) and its pseudonym while linked.
    const pseudonyms = this.deps.pseudonyms;
    const stored = pseudonyms
      ? {
          ...filter,
          ...(req.actorId ? { actorId: await pseudonyms.idsOf(scope, req.actorId) } : {}),
          ...(req.targetId ? { targetId: await pseudonyms.idsOf(scope, req.targetId) } : {}),
        }
      : filter;
    const { events: page, resumeAfter } = await this.deps.store.list(scope, stored, after ? BigInt(after) : 0n, size);
    // A page may be short (the store bounds a filtered scan per call); the token says where to go on.
    const nextPageToken = resumeAfter !== undefined ? this.deps.pageTokens.encode(binding, String(resumeAfter)) : "";
    // Shown with the user ids while linked; erased users stay pseudonyms. `hash` covers the stored form (ExportAuditLog).
    const events = pseudonyms ? await pseudonyms.resolve(scope, page) : page;
    return { events, nextPageToken };
  }

  async verifyAuditLog(req: VerifyAuditLogRequest, ctx: HandlerContext) {
    const scope = auditScopeOf(ctx, req.tenantId);
    const { start, end } = this.range(req);
    const anchor = await this.anchor(scope, start);
    const keys = new Map((await this.deps.keys.publicKeys()).map((k) => [k.keyId, k.publicKey]));
    const checkpoints = await this.deps.store.checkpoints(scope, anchor.position, end ?? LAST);
    const result = await verifyChain({ anchor, rows: this.rows(scope, anchor.position + 1n, end ?? LAST), checkpoints, keys, ...(end ? { endPosition: end } : {}) });
    // Appending to the verified chain itself would write after a tampered end (and could fill a
    // deleted last position): runs are recorded in the platform chain, naming the tenant.
    if (scope.tenantId !== PLATFORM_TENANT) {
      await this.deps.recordVerification?.({
        sourceEventId: `verify:${randomUUID()}`,
        action: "compliance.audit.verify",
        actor: principalActor(ctx),
        target: { type: "tenant", id: scope.tenantId },
        correlationId: ctx.values.get(correlationIdKey),
        details: {
          ok: String(result.ok),
          records_checked: String(result.recordsChecked),
          ...(result.ok ? {} : { broken_position: String(result.brokenPosition), reason: AuditBreakReason[result.reason] ?? String(result.reason) }),
        },
      });
    }
    return result;
  }

  async *exportAuditLog(req: ExportAuditLogRequest, ctx: HandlerContext): AsyncGenerator<ExportAuditLogResponse> {
    const scope = auditScopeOf(ctx, req.tenantId);
    const { start, end } = this.range(req);
    const head = await this.deps.store.head(scope);
    const last = end ?? head.position;
    const anchor = await this.anchor(scope, start);
    const chunk = (text: string) => create(ExportAuditLogResponseSchema, { chunk: new TextEncoder().encode(text) });
    yield chunk(exportHeaderLine({ tenantId: scope.tenantId, startPosition: start, endPosition: last, anchorPosition: anchor.position, anchorHash: anchor.hash }));
    let lines: string[] = [];
    let batch: AuditEvent[] = [];
    // Records are exported as chained (the offline verifier re-hashes them), with the linked users of their pseudonyms beside them.
    const flush = async () => {
      const users = this.deps.pseudonyms ? await this.deps.pseudonyms.usersIn(scope, batch) : new Map<string, string>();
      lines.push(...batch.map((e) => exportRecordLine(e, users)));
      batch = [];
    };
    for await (const event of this.rows(scope, anchor.position + 1n, last)) {
      batch.push(event);
      if (batch.length >= 200) {
        await flush();
        yield chunk(lines.join(""));
        lines = [];
      }
    }
    await flush();
    // Without an end, checkpoints past the stored head are exported too: they show records deleted from the end.
    for (const cp of await this.deps.store.checkpoints(scope, anchor.position, end ?? LAST)) lines.push(exportCheckpointLine(cp));
    if (lines.length > 0) yield chunk(lines.join(""));
  }

  async getAuditPublicKeys(_req: unknown, ctx: HandlerContext) {
    requireReader(ctx);
    return { keys: await this.deps.keys.publicKeys() };
  }

  private range(req: { startPosition: bigint; endPosition: bigint }): { start: bigint; end: bigint | undefined } {
    // Positions are dense from 1 and stored as 64-bit integers; past this no log can reach (and
    // the stores could not bind the value), so the request is refused instead of failing inside.
    if (req.startPosition > LAST) throw invalid("start_position", `at most ${LAST}`);
    if (req.endPosition > LAST) throw invalid("end_position", `at most ${LAST}`);
    const start = req.startPosition === 0n ? 1n : req.startPosition;
    if (req.endPosition !== 0n && req.endPosition < start) throw invalid("end_position", "must not be before start_position");
    return { start, end: req.endPosition === 0n ? undefined : req.endPosition };
  }

  /** The chain is recomputed from the last signed checkpoint before `start` (or the genesis), so the range's first hash is signed. */
  private async anchor(scope: TenantScope, start: bigint): Promise<ChainAnchor & { checkpoint?: AuditCheckpoint }> {
    const cp = start > 1n ? await this.deps.store.checkpointAtOrBefore(scope, start - 1n) : undefined;
    return cp ? { position: cp.position, hash: cp.headHash, checkpoint: cp } : { position: 0n, hash: GENESIS_HASH };
  }

  private async *rows(scope: TenantScope, from: bigint, to: bigint): AsyncGenerator<AuditEvent> {
    let next = from;
    for (;;) {
      const batch = await this.deps.store.range(scope, next, to, BATCH);
      yield* batch;
      if (batch.length < BATCH) return;
      next = batch.at(-1)!.position + 1n;
    }
  }
}
