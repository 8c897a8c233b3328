import { toJson } from "@bufbuild/protobuf";
import { AuditActorKind, AuditEventSchema } from "@caas/gen/caas/compliance/v1/audit_pb.js";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import type { ExportPart } from "./export-job.js";
import type { AuditPseudonyms } from "./audit-pseudonyms.js";
import type { AuditStore } from "./ports/audit-store.js";

/** Records read per export page. */
const PAGE = 500;

/**
 * Compliance's own part of an export: the audit records about the user, from its store. Two passes
 * in position order: records where the user is the actor (cursor `a:<position>`), then records
 * where they are the target and not also the actor (`t:<position>`), so no record is listed twice.
 */
export function createAuditExportPart(store: AuditStore, pseudonyms?: AuditPseudonyms): ExportPart {
  return async (tenantId, userId, _exportId, cursor) => {
    const scope = scopeForAdmin(tenantId);
    const [pass, after] = cursor === "" ? ["a", 0n] : [cursor.slice(0, 1), BigInt(cursor.slice(2))];
    const byActor = pass === "a";
    // The user's raw id (records made before pseudonyms) and their pseudonym; shown with the user id.
    const ids = pseudonyms ? await pseudonyms.idsOf(scope, userId) : [userId];
    const { events: stored, resumeAfter } = await store.list(scope, byActor ? { actorId: ids } : { targetId: ids }, after, PAGE);
    const events = pseudonyms ? await pseudonyms.resolve(scope, stored) : stored;
    const mine = events.filter((e) => (byActor ? e.actor?.kind === AuditActorKind.USER : !(e.actor?.kind === AuditActorKind.USER && e.actor.id === userId)));
    const lines = mine.map((e) => JSON.stringify({ kind: "audit", event: toJson(AuditEventSchema, e) }));
    const next = resumeAfter !== undefined ? `${pass}:${resumeAfter}` : byActor ? "t:0" : "";
    return { lines, files: [], next };
  };
}
