import type { TenantRowEraser } from "../ports/chat-stores.js";
import { chatCollections, MAJORITY, type ChatMongoDb } from "./chat-mongo.js";
import { moderationCollections } from "./moderation-schema.js";
import { receiptCollections } from "./receipts-schema.js";

/**
 * Deletes a tenant's documents from chat's collections under `prefix`, a page of at most `limit`
 * per collection per call: every collection whose documents carry `tenantId`, and the projector's
 * positions (keyed `<tenant>|<conversation>`). The data keys stay: the shredded keys' record.
 */
export function createMongoTenantRowEraser(db: ChatMongoDb, prefix: string): TenantRowEraser {
  const c = chatCollections(prefix);
  const m = moderationCollections(prefix);
  const r = receiptCollections(prefix);
  const byTenantId = [
    c.conversations,
    c.members,
    c.readStates,
    c.invites,
    c.inviteUses,
    c.marks,
    m.moderation,
    m.blocks,
    r.mentions,
    r.deliveryStates,
    `${prefix}event_log`,
    `${prefix}reencryption_runs`,
  ];
  const positions = `${prefix}projection_positions`;
  const page = async (name: string, filter: Record<string, unknown>, limit: number) => {
    const docs = db.collection<{ _id: unknown }>(name, MAJORITY);
    const ids = (
      await docs
        .find(filter, { projection: { _id: 1 } })
        .limit(limit)
        .toArray()
    ).map((d) => d._id);
    if (ids.length === 0) return 0;
    await docs.deleteMany({ _id: { $in: ids } });
    return ids.length;
  };
  return {
    async eraseTenantRows(tenantId, limit) {
      let removed = 0;
      let more = false;
      const filters: [string, Record<string, unknown>][] = [
        ...byTenantId.map((name) => [name, { tenantId }] as [string, Record<string, unknown>]),
        [positions, { _id: { $regex: `^${escapeRegex(tenantId)}\\|` } }],
      ];
      for (const [name, filter] of filters) {
        const n = await page(name, filter, limit);
        removed += n;
        if (n === limit) more = true;
      }
      return { removed, more };
    },
  };
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
