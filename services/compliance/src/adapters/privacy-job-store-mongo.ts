import { isMongoDuplicateKeyError, type MongoDb } from "@caas/shared/mongo";
import type { PrivacyJobRecord, PrivacyJobStore } from "../ports/privacy-job-store.js";
import { MAJORITY, complianceCollections } from "./audit-mongo.js";
import { tenantOf } from "./audit-rows.js";
import { checkJob, openKeyOf, stepsOf } from "./privacy-jobs-rows.js";

interface JobDoc extends PrivacyJobRecord {
  _id: string;
  openKey: string;
}

/** The cluster PrivacyJobStore: one document per job (`_id` "<tenant>|<id>"); the unique (tenantId, openKey) index keeps one unfinished job per user and kind. */
export function createMongoPrivacyJobStore(opts: { db: MongoDb; collectionPrefix?: string }): PrivacyJobStore {
  const jobs = opts.db.collection<JobDoc>(complianceCollections(opts.collectionPrefix).privacyJobs, MAJORITY);
  return {
    async create(scope, job) {
      const tenantId = tenantOf(scope);
      checkJob(tenantId, job);
      try {
        await jobs.insertOne({ ...structuredClone(job), _id: `${tenantId}|${job.id}`, openKey: openKeyOf(job) });
        return { job: structuredClone(job), created: true };
      } catch (err) {
        if (!isMongoDuplicateKeyError(err)) throw err;
        const existing = await jobs.findOne({ tenantId, openKey: openKeyOf(job) });
        if (!existing) throw err;
        return { job: toRecord(existing), created: false };
      }
    },
    async get(scope, id) {
      const doc = await jobs.findOne({ _id: `${tenantOf(scope)}|${id}` });
      return doc ? toRecord(doc) : undefined;
    },
    async latest(scope, kind, userId) {
      const [doc] = await jobs
        .find({ tenantId: tenantOf(scope), kind, userId })
        .sort({ createTimeMs: -1, id: -1 })
        .limit(1)
        .toArray();
      return doc ? toRecord(doc) : undefined;
    },
    async save(scope, job) {
      const tenantId = tenantOf(scope);
      checkJob(tenantId, job);
      const { state, steps, error, updateTimeMs, completeTimeMs, expireTimeMs, deleteReason } = job;
      const r = await jobs.updateOne(
        { _id: `${tenantId}|${job.id}`, state: { $ne: "expired" } },
        { $set: { state, steps, error, updateTimeMs, completeTimeMs, expireTimeMs, deleteReason, openKey: openKeyOf(job) } },
      );
      return r.matchedCount > 0;
    },
    async ofUser(scope, kind, userId, limit) {
      return (
        await jobs
          .find({ tenantId: tenantOf(scope), kind, userId })
          .sort({ createTimeMs: 1, id: 1 })
          .limit(limit)
          .toArray()
      ).map(toRecord);
    },
    async openOfKind(scope, kind, limit) {
      return (
        await jobs
          .find({ tenantId: tenantOf(scope), kind, state: { $ne: "expired" } })
          .sort({ createTimeMs: 1, id: 1 })
          .limit(limit)
          .toArray()
      ).map(toRecord);
    },
    async dueToExpire({ nowMs, limit, tenantId }) {
      const filter = { state: "succeeded" as const, expireTimeMs: { $gt: 0, $lte: nowMs }, ...(tenantId === undefined ? {} : { tenantId }) };
      return (await jobs.find(filter).sort({ expireTimeMs: 1, tenantId: 1, id: 1 }).limit(limit).toArray()).map(toRecord);
    },
    async unfinished(limit) {
      return (
        await jobs
          .find({ state: { $in: ["running", "failed"] } })
          .sort({ createTimeMs: 1, tenantId: 1, id: 1 })
          .limit(limit)
          .toArray()
      ).map(toRecord);
    },
    async close() {},
  };
}

function toRecord(d: JobDoc): PrivacyJobRecord {
  return {
    tenantId: d.tenantId,
    id: d.id,
    kind: d.kind,
    userId: d.userId,
    state: d.state,
    steps: stepsOf(d.steps),
    error: d.error,
    createTimeMs: d.createTimeMs,
    updateTimeMs: d.updateTimeMs,
    completeTimeMs: d.completeTimeMs,
    // Jobs stored before archives expired have neither field.
    expireTimeMs: d.expireTimeMs ?? 0,
    deleteReason: d.deleteReason ?? "",
  };
}
