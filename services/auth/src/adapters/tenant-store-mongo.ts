import { AlreadyExistsError } from "@caas/shared/errors";
import { isMongoDuplicateKeyError } from "@caas/shared/mongo";
import type { TenantChanges, TenantListQuery, TenantRecord, TenantState, TenantStore } from "../ports/tenant-store.js";
import { authCollections, MAJORITY, type MongoAdapterOptions } from "./auth-mongo.js";
import { checkLimit, checkTenantChanges, checkTenantRecord, checkTenantState, checkTime, tenantOf } from "./checks.js";

interface TenantDoc {
  /** The tenant id. */
  _id: string;
  name: string;
  status: TenantState;
  settings: string;
  createTimeMs: number;
  updateTimeMs: number;
  revision: number;
}

/**
 * The cluster-mode TenantStore: one document per tenant, `_id` = tenant id (MongoDB replica set;
 * FerretDB in tests). Updates are one findOneAndUpdate, compare-and-set on the revision.
 */
export function createMongoTenantStore(opts: MongoAdapterOptions): TenantStore {
  const tenants = opts.db.collection<TenantDoc>(authCollections(opts.collectionPrefix).tenants, MAJORITY);

  return {
    async create(record) {
      checkTenantRecord(record);
      const { id, ...rest } = record;
      try {
        await tenants.insertOne({ _id: id, ...rest });
      } catch (err) {
        if (isMongoDuplicateKeyError(err)) throw new AlreadyExistsError(`tenant ${id} already exists`);
        throw err;
      }
    },

    async get(scope) {
      const doc = await tenants.findOne({ _id: tenantOf(scope) });
      return doc ? toRecord(doc) : undefined;
    },

    async list(query: TenantListQuery) {
      const filter = {
        _id: { $gt: query.afterId ?? "" },
        ...(query.status === undefined ? {} : { status: checkTenantState(query.status) }),
      };
      const docs = await tenants.find(filter).sort({ _id: 1 }).limit(checkLimit(query.limit)).toArray();
      return docs.map(toRecord);
    },

    async update(scope, changes: TenantChanges, nowMs, ifRevision) {
      checkTenantChanges(changes);
      const set: Partial<TenantDoc> = { updateTimeMs: checkTime("nowMs", nowMs) };
      if (changes.name !== undefined) set.name = changes.name;
      if (changes.settings !== undefined) set.settings = changes.settings;
      if (changes.status !== undefined) set.status = changes.status;
      const doc = await tenants.findOneAndUpdate(
        { _id: tenantOf(scope), ...(ifRevision === undefined ? {} : { revision: ifRevision }) },
        { $set: set, $inc: { revision: 1 } },
        { returnDocument: "after" },
      );
      return doc ? toRecord(doc) : undefined;
    },

    async close() {},
  };
}

function toRecord(d: TenantDoc): TenantRecord {
  return {
    id: d._id,
    name: d.name,
    status: d.status,
    settings: d.settings,
    createTimeMs: d.createTimeMs,
    updateTimeMs: d.updateTimeMs,
    revision: d.revision,
  };
}
