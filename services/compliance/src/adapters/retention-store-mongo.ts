import type { Collection, Document } from "mongodb";
import { isMongoDuplicateKeyError, upsertRetryingOnce, type MongoCollection, type MongoDb } from "@caas/shared/mongo";
import { MAX_TENANT_ROWS, type LegalHoldRecord, type RetentionPolicyRecord, type RetentionStore } from "../ports/retention-store.js";
import { MAJORITY, complianceCollections } from "./audit-mongo.js";
import { tenantOf } from "./audit-rows.js";
import { activeKeyOf, checkHold, checkPolicy } from "./retention-rows.js";

interface PolicyDoc extends RetentionPolicyRecord {
  _id: string;
}

type Deletable<T extends Document> = MongoCollection<T> & Pick<Collection<T>, "deleteOne">;

interface HoldDoc extends LegalHoldRecord {
  _id: string;
  activeKey: string;
}

/** The cluster RetentionStore: a document per policy (`_id` "<tenant>|<conversation>") and per hold (`_id` "<tenant>|<id>"); the unique (tenantId, activeKey) index keeps one active hold per target. */
export function createMongoRetentionStore(opts: { db: MongoDb; collectionPrefix?: string }): RetentionStore {
  const names = complianceCollections(opts.collectionPrefix);
  // The driver's collection (which MongoDb hands out) also deletes; policies are removed, not flagged.
  const policies = opts.db.collection<PolicyDoc>(names.retentionPolicies, MAJORITY) as Deletable<PolicyDoc>;
  const holds = opts.db.collection<HoldDoc>(names.legalHolds, MAJORITY);
  return {
    async putPolicy(scope, policy) {
      const tenantId = tenantOf(scope);
      checkPolicy(tenantId, policy);
      await upsertRetryingOnce(() => policies.updateOne({ _id: `${tenantId}|${policy.conversationId}` }, { $set: policyOf(policy) }, { upsert: true }));
    },
    async getPolicy(scope, conversationId) {
      const doc = await policies.findOne({ _id: `${tenantOf(scope)}|${conversationId}` });
      return doc ? policyOf(doc) : undefined;
    },
    async deletePolicy(scope, conversationId) {
      return (await policies.deleteOne({ _id: `${tenantOf(scope)}|${conversationId}` })).deletedCount > 0;
    },
    async policies(scope) {
      const docs = await policies
        .find({ tenantId: tenantOf(scope) })
        .sort({ conversationId: 1 })
        .limit(MAX_TENANT_ROWS)
        .toArray();
      return docs.map(policyOf);
    },
    async tenantsWithPolicies({ after, limit }) {
      // FerretDB has no distinct with a sort and limit: a policy's tenant repeats only across its conversations, read in tenant order.
      const out: string[] = [];
      let cursor = after;
      while (out.length < limit) {
        const [doc] = await policies
          .find({ tenantId: { $gt: cursor } })
          .sort({ tenantId: 1 })
          .limit(1)
          .toArray();
        if (!doc) break;
        out.push(doc.tenantId);
        cursor = doc.tenantId;
      }
      return out;
    },
    async placeHold(scope, hold) {
      const tenantId = tenantOf(scope);
      checkHold(tenantId, hold);
      const activeKey = activeKeyOf(hold);
      try {
        await holds.insertOne({ ...holdOf(hold), _id: `${tenantId}|${hold.id}`, activeKey });
        return { hold: holdOf(hold), created: true };
      } catch (err) {
        if (!isMongoDuplicateKeyError(err)) throw err;
        const existing = await holds.findOne({ tenantId, activeKey });
        if (!existing) throw err;
        return { hold: holdOf(existing), created: false };
      }
    },
    async releaseHold(scope, id, releaseTimeMs) {
      const _id = `${tenantOf(scope)}|${id}`;
      const r = await holds.updateOne({ _id, releaseTimeMs: 0 }, { $set: { releaseTimeMs, activeKey: `released|${id}` } });
      const doc = await holds.findOne({ _id });
      return doc ? { hold: holdOf(doc), changed: r.modifiedCount === 1 } : undefined;
    },
    async holds(scope, { includeReleased }) {
      const filter = includeReleased ? { tenantId: tenantOf(scope) } : { tenantId: tenantOf(scope), releaseTimeMs: 0 };
      const docs = await holds.find(filter).sort({ createTimeMs: -1, id: -1 }).limit(MAX_TENANT_ROWS).toArray();
      return docs.map(holdOf);
    },
    async close() {},
  };
}

function policyOf(d: RetentionPolicyRecord): RetentionPolicyRecord {
  // Policies stored before export archives expired have no exportMaxAgeMs.
  const { tenantId, conversationId, messageMaxAgeMs, mediaMaxAgeMs, updateTimeMs } = d;
  return { tenantId, conversationId, messageMaxAgeMs, mediaMaxAgeMs, exportMaxAgeMs: d.exportMaxAgeMs ?? 0, updateTimeMs };
}

function holdOf(d: LegalHoldRecord): LegalHoldRecord {
  return { tenantId: d.tenantId, id: d.id, kind: d.kind, targetId: d.targetId, reason: d.reason, createTimeMs: d.createTimeMs, releaseTimeMs: d.releaseTimeMs };
}
