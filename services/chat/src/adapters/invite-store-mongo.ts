import { isMongoDuplicateKeyError } from "@caas/shared/mongo";
import type { InviteRecord, InviteStore } from "../ports/invite-store.js";
import { chatCollections, MAJORITY, type ChatMongoOptions } from "./chat-mongo.js";
import { checkId, checkTime, tenantOf } from "./checks.js";
import { checkClaim, checkInvite } from "./invite-checks.js";

interface InviteDoc extends InviteRecord {
  /** `<tenant>|<id>`. */
  _id: string;
  tenantId: string;
}

interface UseDoc {
  /** `<tenant>|<invite>|<slot>`: the unique insert that takes a slot. */
  _id: string;
  tenantId: string;
  inviteId: string;
  slot: number;
  userId: string;
  useTimeMs: number;
}

/**
 * The cluster-mode InviteStore. A use takes the next numbered slot by inserting its `_id`; two
 * claims racing for one slot collide on that unique `_id` and the loser tries the next one, and
 * a unique (tenantId, inviteId, userId) index keeps one use per user. Only inserts decide, so the
 * limit holds on FerretDB too (ADR 0015). Revocation is a single-field `$set` whose first value
 * is kept by a filter; on FerretDB a racing second revocation may overwrite the time, which
 * changes nothing but the reported instant.
 */
export function createMongoInviteStore(opts: ChatMongoOptions): InviteStore {
  const names = chatCollections(opts.collectionPrefix);
  const invites = opts.db.collection<InviteDoc>(names.invites, MAJORITY);
  const uses = opts.db.collection<UseDoc>(names.inviteUses, MAJORITY);
  const docId = (tenantId: string, id: string) => `${tenantId}|${id}`;
  const strip = (d: InviteDoc | null): InviteRecord | undefined =>
    d
      ? {
          id: d.id,
          conversationId: d.conversationId,
          codeHash: d.codeHash,
          createdBy: d.createdBy,
          createTimeMs: d.createTimeMs,
          expireTimeMs: d.expireTimeMs,
          maxUses: d.maxUses,
          revokeTimeMs: d.revokeTimeMs,
        }
      : undefined;

  return {
    async create(scope, invite) {
      const tenantId = tenantOf(scope);
      checkInvite(invite);
      try {
        await invites.insertOne({ _id: docId(tenantId, invite.id), tenantId, ...invite });
      } catch (err) {
        if (isMongoDuplicateKeyError(err)) throw new RangeError(`invite ${invite.id} or its code already exists`, { cause: err });
        throw err;
      }
    },
    async get(scope, id) {
      return strip(await invites.findOne({ _id: docId(tenantOf(scope), checkId("id", id)) }));
    },
    async byCodeHash(scope, codeHash) {
      return strip(await invites.findOne({ tenantId: tenantOf(scope), codeHash: checkId("codeHash", codeHash) }));
    },
    async revoke(scope, id, timeMs) {
      const _id = docId(tenantOf(scope), checkId("id", id));
      await invites.updateOne({ _id, revokeTimeMs: 0 }, { $set: { revokeTimeMs: checkTime("timeMs", timeMs) } });
      return strip(await invites.findOne({ _id }));
    },
    async claim(scope, invite, userId, timeMs) {
      const tenantId = tenantOf(scope);
      checkClaim(invite, userId, timeMs);
      const mine = { tenantId, inviteId: invite.id, userId };
      for (;;) {
        if (await uses.findOne(mine)) return "already";
        const n = await uses.countDocuments({ tenantId, inviteId: invite.id });
        if (invite.maxUses > 0 && n >= invite.maxUses) return "exhausted";
        try {
          await uses.insertOne({ _id: `${tenantId}|${invite.id}|${n + 1}`, ...mine, slot: n + 1, useTimeMs: timeMs });
          return "claimed";
        } catch (err) {
          // Another claim took this slot (or this user claimed concurrently): look again.
          if (!isMongoDuplicateKeyError(err)) throw err;
        }
      }
    },
    async useCount(scope, id) {
      return uses.countDocuments({ tenantId: tenantOf(scope), inviteId: checkId("id", id) });
    },
    async close() {},
  };
}
