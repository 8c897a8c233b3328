import { toJson } from "@bufbuild/protobuf";
import { AuditCheckpointSchema, AuditEventSchema, type AuditCheckpoint, type AuditEvent } from "@caas/gen/caas/compliance/v1/audit_pb.js";

/** The format name in an export's header line. */
export const EXPORT_FORMAT = "caas-audit-export-v1";

/**
 * The lines of an export (each a JSON object ending in "\n"): a header naming the tenant, the
 * range and the anchor the chain continues from (the genesis or a signed checkpoint, which is
 * also exported), then every record from the anchor on (`{"type":"record","event":…}`, proto
 * JSON of AuditEvent as chained; `"subjects":{pseudonym: user id}` beside it while users are
 * linked), then the checkpoints (`{"type":"checkpoint","checkpoint":…}`).
 */
export function exportHeaderLine(h: { tenantId: string; startPosition: bigint; endPosition: bigint; anchorPosition: bigint; anchorHash: Uint8Array }): string {
  return `${JSON.stringify({
    type: "header",
    format: EXPORT_FORMAT,
    tenantId: h.tenantId,
    startPosition: String(h.startPosition),
    endPosition: String(h.endPosition),
    anchor: { position: String(h.anchorPosition), hash: Buffer.from(h.anchorHash).toString("hex") },
  })}\n`;
}

/** A record line; `users` (pseudonym to user id, the links that still exist) adds a `subjects` object outside the chained event. */
export function exportRecordLine(event: AuditEvent, users?: ReadonlyMap<string, string>): string {
  const subjects: Record<string, string> = {};
  for (const id of [event.actor?.id, event.target?.id, ...event.details.map((d) => d.value)]) {
    const user = id ? users?.get(id) : undefined;
    if (id && user) subjects[id] = user;
  }
  const line = Object.keys(subjects).length > 0 ? { type: "record", event: toJson(AuditEventSchema, event), subjects } : { type: "record", event: toJson(AuditEventSchema, event) };
  return `${JSON.stringify(line)}\n`;
}

export function exportCheckpointLine(checkpoint: AuditCheckpoint): string {
  return `${JSON.stringify({ type: "checkpoint", checkpoint: toJson(AuditCheckpointSchema, checkpoint) })}\n`;
}
