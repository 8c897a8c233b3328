import { mongoMigrationTarget } from "@caas/shared/mongo/migrations";
import { runMigrations, type Migration, type MigrationResult } from "@caas/shared/migrations";
import type { MongoCollection, MongoCollectionOptions, MongoDb } from "@caas/shared/mongo";
import type { Collection, Document } from "mongodb";
import { CHECKPOINT_BLOCK, RECORD_BLOCK, blockOf, type HeadDoc } from "./audit-heads-mongo.js";

/**
 * The database handle of the audit store: the shared narrow one plus `deleteOne` (a pseudonym link
 * is deleted on erasure) and `insertMany` (a run of records in one command). The driver's `Db` satisfies it.
 */
export interface ComplianceMongoDb extends MongoDb {
  collection<T extends Document = Document>(name: string, options?: MongoCollectionOptions): MongoCollection<T> & Pick<Collection<T>, "deleteOne" | "insertMany">;
}

/** Collection names, all starting with a prefix ("compliance_" in production; tests add their own). */
export function complianceCollections(prefix = "compliance_") {
  return {
    events: `${prefix}audit_events`,
    checkpoints: `${prefix}audit_checkpoints`,
    keys: `${prefix}audit_keys`,
    subjects: `${prefix}audit_subjects`,
    erasedSubjects: `${prefix}audit_erased_subjects`,
    heads: `${prefix}audit_heads`,
    privacyJobs: `${prefix}privacy_jobs`,
    retentionPolicies: `${prefix}retention_policies`,
    legalHolds: `${prefix}legal_holds`,
    migrations: `${prefix}migrations`,
  };
}

/** Write concern of every compliance write (a replica set acknowledges on a majority). */
export const MAJORITY = { writeConcern: { w: "majority" as const } };

/**
 * The compliance MongoDB schema steps (indexes); append only, each idempotent. Record ids are
 * `<tenant>|<position>`, so `_id` claims a position; the unique source index makes appends
 * exactly once per source event. Secondary indexes lead with `tenantId`.
 */
export function complianceMongoMigrations(prefix = "compliance_"): Migration<MongoDb>[] {
  const c = complianceCollections(prefix);
  return [
    {
      version: 1,
      name: "audit record indexes",
      async up(db) {
        const events = db.collection(c.events);
        await events.createIndex({ tenantId: 1, sourceEventId: 1 }, { name: "tenant_source", unique: true });
        await events.createIndex({ tenantId: 1, position: 1 }, { name: "tenant_position" });
        await events.createIndex({ tenantId: 1, actorId: 1, position: 1 }, { name: "tenant_actor_position" });
        await events.createIndex({ tenantId: 1, action: 1, position: 1 }, { name: "tenant_action_position" });
        await events.createIndex({ tenantId: 1, targetId: 1, position: 1 }, { name: "tenant_target_position" });
        await db.collection(c.checkpoints).createIndex({ tenantId: 1, position: 1 }, { name: "tenant_position" });
      },
    },
    {
      version: 2,
      name: "privacy job indexes",
      async up(db) {
        const jobs = db.collection(c.privacyJobs);
        await jobs.createIndex({ tenantId: 1, openKey: 1 }, { name: "tenant_open", unique: true });
        await jobs.createIndex({ tenantId: 1, kind: 1, userId: 1, createTimeMs: 1 }, { name: "tenant_user" });
        await jobs.createIndex({ state: 1, createTimeMs: 1 }, { name: "unfinished" });
      },
    },
    {
      version: 3,
      name: "retention policy and legal hold indexes",
      async up(db) {
        await db.collection(c.retentionPolicies).createIndex({ tenantId: 1, conversationId: 1 }, { name: "tenant_conversation" });
        const holds = db.collection(c.legalHolds);
        await holds.createIndex({ tenantId: 1, activeKey: 1 }, { name: "tenant_active", unique: true });
        await holds.createIndex({ tenantId: 1, createTimeMs: 1 }, { name: "tenant_time" });
      },
    },
    {
      version: 4,
      name: "export archive expiry index",
      async up(db) {
        await db.collection(c.privacyJobs).createIndex({ state: 1, expireTimeMs: 1 }, { name: "expiry" });
      },
    },
    {
      version: 5,
      name: "audit pseudonym link indexes",
      async up(db) {
        // _id is `<tenant>|<user>` (one link per user); a pseudonym resolves through this unique index.
        await db.collection(c.subjects).createIndex({ tenantId: 1, pseudonym: 1 }, { name: "tenant_pseudonym", unique: true });
      },
    },
    {
      version: 6,
      name: "audit record and checkpoint blocks",
      async up(db) {
        // Reads go by (tenantId, block), an equality FerretDB pushes down (see audit-heads-mongo.ts);
        // documents written before carry no block and get one here, once.
        const events = db.collection(c.events);
        await events.createIndex({ tenantId: 1, block: 1 }, { name: "tenant_block" });
        for await (const d of events.find({ block: { $exists: false } }, { projection: { position: 1 } })) {
          await events.updateOne({ _id: d._id }, { $set: { block: blockOf(d.position as number, RECORD_BLOCK) } });
        }
        const checkpoints = db.collection(c.checkpoints);
        await checkpoints.createIndex({ tenantId: 1, block: 1 }, { name: "tenant_block" });
        const heads = db.collection<HeadDoc>(c.heads);
        for await (const d of checkpoints.find({ block: { $exists: false } }, { projection: { tenantId: 1, position: 1 } })) {
          const [tenantId, position] = [d.tenantId as string, d.position as number];
          await heads.updateOne({ _id: tenantId }, { $max: { checkpointPosition: position }, $set: { tenantId } }, { upsert: true });
          await checkpoints.updateOne({ _id: d._id }, { $set: { block: blockOf(position, CHECKPOINT_BLOCK) } });
        }
      },
    },
  ];
}

/** Brings the compliance collections under `collectionPrefix` up to the newest migration. */
export async function migrateComplianceMongo(opts: { db: MongoDb; collectionPrefix?: string; onMigrated?: (result: MigrationResult) => void }): Promise<MigrationResult> {
  const prefix = opts.collectionPrefix ?? "compliance_";
  const result = await runMigrations(mongoMigrationTarget(opts.db, complianceCollections(prefix).migrations), complianceMongoMigrations(prefix));
  opts.onMigrated?.(result);
  return result;
}
