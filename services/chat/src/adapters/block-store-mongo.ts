import type { Filter } from "mongodb";
import { isMongoDuplicateKeyError } from "@caas/shared/mongo";
import type { BlockRecord, BlockStore } from "../ports/block-store.js";
import { MAJORITY, type ChatMongoOptions } from "./chat-mongo.js";
import { checkId, tenantOf } from "./checks.js";
import { moderationCollections } from "./moderation-schema.js";
import { checkBlock, checkBlockQuery } from "./moderation-checks.js";

interface BlockDoc extends BlockRecord {
  /** `<tenant>|<blocker>|<blocked>`: none of them contains "|". */
  _id: string;
  tenantId: string;
}

/** The cluster-mode BlockStore: one document per (tenant, blocker, blocked); a block is an insert (atomic everywhere). */
export function createMongoBlockStore(opts: ChatMongoOptions): BlockStore {
  const docs = opts.db.collection<BlockDoc>(moderationCollections(opts.collectionPrefix).blocks, MAJORITY);
  const docId = (tenantId: string, blocker: string, blocked: string) => `${tenantId}|${blocker}|${blocked}`;

  return {
    async block(scope, record) {
      const tenantId = tenantOf(scope);
      checkBlock(record);
      const _id = docId(tenantId, record.blockerId, record.blockedId);
      try {
        await docs.insertOne({ _id, tenantId, ...record });
      } catch (err) {
        if (!isMongoDuplicateKeyError(err)) throw err;
      }
      return toRecord((await docs.findOne({ _id }))!);
    },

    async unblock(scope, blockerId, blockedId) {
      const res = await docs.deleteMany({ _id: docId(tenantOf(scope), checkId("blockerId", blockerId), checkId("blockedId", blockedId)) });
      return res.deletedCount === 1;
    },

    async between(scope, a, b) {
      const tenantId = tenantOf(scope);
      checkId("a", a);
      checkId("b", b);
      return (await docs.countDocuments({ _id: { $in: [docId(tenantId, a, b), docId(tenantId, b, a)] } })) > 0;
    },

    async list(scope, blockerId, query) {
      const tenantId = tenantOf(scope);
      checkBlockQuery(query);
      const filter: Filter<BlockDoc> = { tenantId, blockerId: checkId("blockerId", blockerId) };
      if (query.after) {
        filter.$or = [{ createTimeMs: { $lt: query.after.createTimeMs } }, { createTimeMs: query.after.createTimeMs, blockedId: { $lt: query.after.blockedId } }];
      }
      const found = await docs.find(filter).sort({ createTimeMs: -1, blockedId: -1 }).limit(query.limit).toArray();
      return found.map(toRecord);
    },

    async close() {},
  };
}

function toRecord(d: BlockDoc): BlockRecord {
  return { blockerId: d.blockerId, blockedId: d.blockedId, createTimeMs: d.createTimeMs };
}
