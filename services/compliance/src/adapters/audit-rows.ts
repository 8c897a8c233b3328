import { create } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { isTenantScope, type TenantScope } from "@caas/shared/tenant-scope";
import { AuditEventSchema, AuditCheckpointSchema, type AuditCheckpoint, type AuditEvent } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import { MAX_AUDIT_PAGE } from "../ports/audit-store.js";

/*
 * The flat form both adapters store a record in, and the argument checks they share. A record
 * read back is rebuilt field by field, so a stored field changed behind compliance's back changes
 * the canonical bytes and breaks the chain.
 */

/** One stored record, column by column. */
export interface AuditRow {
  tenantId: string;
  position: number;
  sourceEventId: string;
  source: string;
  eventTimeMs: number;
  actorKind: number;
  actorId: string;
  action: string;
  targetType: string;
  targetId: string;
  targetConversationId: string;
  outcome: number;
  correlationId: string;
  /** JSON array of [key, value] pairs. */
  details: string;
  recordTimeMs: number;
  /** AuditSubjectForm (0 in records made before pseudonyms). */
  subjectForm: number;
  hash: Uint8Array;
}

/** The tenant id of a real TenantScope. */
export function tenantOf(scope: TenantScope): string {
  if (!isTenantScope(scope)) throw new TypeError("a TenantScope is required");
  return scope.tenantId;
}

/** A page size 1..MAX_AUDIT_PAGE. */
export function checkLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_PAGE) throw new RangeError(`limit must be 1-${MAX_AUDIT_PAGE}`);
  return limit;
}

/** A position as a safe JS number (positions stay far below 2^53). */
export function positionNumber(position: bigint): number {
  if (position < 0n || position > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError("position out of range");
  return Number(position);
}

/** The row of a record about to be inserted under `tenantId`. */
export function rowOf(tenantId: string, e: AuditEvent): AuditRow {
  if (e.tenantId !== tenantId) throw new RangeError("the record's tenant_id must be the scope's tenant");
  if (e.position < 1n) throw new RangeError("position must be at least 1");
  if (e.sourceEventId.length === 0 || e.sourceEventId.length > 200) throw new RangeError("source_event_id must be 1-200 characters");
  if (e.hash.length !== 32) throw new RangeError("hash must be 32 bytes");
  return {
    tenantId,
    position: positionNumber(e.position),
    sourceEventId: e.sourceEventId,
    source: e.source,
    eventTimeMs: e.eventTime ? Number(timestampMs(e.eventTime)) : 0,
    actorKind: e.actor?.kind ?? 0,
    actorId: e.actor?.id ?? "",
    action: e.action,
    targetType: e.target?.type ?? "",
    targetId: e.target?.id ?? "",
    targetConversationId: e.target?.conversationId ?? "",
    outcome: e.outcome,
    correlationId: e.correlationId,
    details: JSON.stringify(e.details.map((d) => [d.key, d.value])),
    recordTimeMs: e.recordTime ? Number(timestampMs(e.recordTime)) : 0,
    subjectForm: e.subjectForm,
    hash: e.hash,
  };
}

/** The record a row holds (every message field set, as the appender builds them). */
export function eventOf(r: AuditRow): AuditEvent {
  let details: [string, string][];
  try {
    details = JSON.parse(r.details) as [string, string][];
  } catch {
    details = [["", r.details]];
  }
  return create(AuditEventSchema, {
    tenantId: r.tenantId,
    position: BigInt(r.position),
    sourceEventId: r.sourceEventId,
    source: r.source,
    eventTime: timestampFromMs(r.eventTimeMs),
    actor: { kind: r.actorKind, id: r.actorId },
    action: r.action,
    target: { type: r.targetType, id: r.targetId, conversationId: r.targetConversationId },
    outcome: r.outcome,
    correlationId: r.correlationId,
    details: details.map(([key, value]) => ({ key: String(key), value: String(value) })),
    recordTime: timestampFromMs(r.recordTimeMs),
    subjectForm: r.subjectForm ?? 0,
    hash: new Uint8Array(r.hash),
  });
}

/** One stored checkpoint. */
export interface CheckpointRow {
  tenantId: string;
  position: number;
  headHash: Uint8Array;
  createTimeMs: number;
  keyId: string;
  signature: Uint8Array;
}

export function checkpointRowOf(tenantId: string, c: AuditCheckpoint): CheckpointRow {
  if (c.tenantId !== tenantId) throw new RangeError("the checkpoint's tenant_id must be the scope's tenant");
  return {
    tenantId,
    position: positionNumber(c.position),
    headHash: c.headHash,
    createTimeMs: c.createTime ? Number(timestampMs(c.createTime)) : 0,
    keyId: c.keyId,
    signature: c.signature,
  };
}

export function checkpointOf(r: CheckpointRow): AuditCheckpoint {
  return create(AuditCheckpointSchema, {
    tenantId: r.tenantId,
    position: BigInt(r.position),
    headHash: new Uint8Array(r.headHash),
    createTime: timestampFromMs(r.createTimeMs),
    keyId: r.keyId,
    signature: new Uint8Array(r.signature),
  });
}
