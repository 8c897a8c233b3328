import { randomUUID } from "node:crypto";
import Database from "better-sqlite3";
import { bytesFromBson, connectMongo, type MongoDb } from "@caas/shared/mongo";
import { twoMongoInstances, twoSqliteInstances } from "@caas/shared/testing";
import { complianceCollections, migrateComplianceMongo, type ComplianceMongoDb } from "../../src/adapters/audit-mongo.js";
import { openComplianceSqlite } from "../../src/adapters/audit-sqlite.js";
import { createMongoAuditStore } from "../../src/adapters/audit-store-mongo.js";
import { RECORD_BLOCK, blockOf } from "../../src/adapters/audit-heads-mongo.js";
import { createSqliteAuditStore } from "../../src/adapters/audit-store-sqlite.js";
import { createMongoPrivacyJobStore } from "../../src/adapters/privacy-job-store-mongo.js";
import { createSqlitePrivacyJobStore } from "../../src/adapters/privacy-job-store-sqlite.js";
import type { AuditStore } from "../../src/ports/audit-store.js";
import type { PrivacyJobStore } from "../../src/ports/privacy-job-store.js";
import type { JobStoresUnderTest } from "../contract/privacy-job-store.contract.js";
import { createMongoRetentionStore } from "../../src/adapters/retention-store-mongo.js";
import { createSqliteRetentionStore } from "../../src/adapters/retention-store-sqlite.js";
import type { RetentionStore } from "../../src/ports/retention-store.js";
import type { RetentionStoresUnderTest } from "../contract/retention-store.contract.js";

/** Direct edits of stored records behind compliance's back, as an attacker with database access would make them. */
export interface Tamper {
  /** Sets the stored action of the record at `position`. */
  editAction(tenantId: string, position: number, action: string): Promise<void>;
  deleteAt(tenantId: string, position: number): Promise<void>;
  /** Exchanges the positions of two records. */
  swap(tenantId: string, a: number, b: number): Promise<void>;
  /** Shifts the records from `position` on by one and stores a forged copy of the record before it at `position`. */
  insertAt(tenantId: string, position: number): Promise<void>;
  /** Overwrites the stored hash of the record at `position`. */
  setHash(tenantId: string, position: number, hash: Uint8Array): Promise<void>;
  /** Flips a bit of the signature of the checkpoint at `position`. */
  forgeCheckpointSignature(tenantId: string, position: number): Promise<void>;
}

/** Two store handles on one fresh backend namespace plus a raw handle to tamper with it. */
export interface AuditBackendUnderTest {
  a: AuditStore;
  b: AuditStore;
  tamper: Tamper;
  close(): Promise<void>;
}

const forgedHash = () => Buffer.from(randomUUID().replace(/-/g, "").repeat(2), "hex");

/** Each call: a fresh SQLite file opened by two stores and a raw connection. */
export function sqliteAuditBackend(dir: string): () => Promise<AuditBackendUnderTest> {
  return async () => {
    let rawPath = "";
    const inst = await twoSqliteInstances({
      dir,
      name: "compliance",
      open: async (path) => ((rawPath = path), openComplianceSqlite({ path })),
      make: (db) => createSqliteAuditStore({ db }),
    })();
    const raw = new Database(rawPath);
    const tamper: Tamper = {
      async editAction(t, p, action) {
        raw.prepare("UPDATE audit_events SET action = ? WHERE tenant_id = ? AND position = ?").run(action, t, p);
      },
      async deleteAt(t, p) {
        raw.prepare("DELETE FROM audit_events WHERE tenant_id = ? AND position = ?").run(t, p);
      },
      async swap(t, a, b) {
        raw.transaction(() => {
          raw.prepare("UPDATE audit_events SET position = -1 WHERE tenant_id = ? AND position = ?").run(t, a);
          raw.prepare("UPDATE audit_events SET position = ? WHERE tenant_id = ? AND position = ?").run(a, t, b);
          raw.prepare("UPDATE audit_events SET position = ? WHERE tenant_id = ? AND position = -1").run(b, t);
        })();
      },
      async insertAt(t, p) {
        raw.transaction(() => {
          raw.prepare("UPDATE audit_events SET position = -position WHERE tenant_id = ? AND position >= ?").run(t, p);
          raw.prepare("UPDATE audit_events SET position = 1 - position WHERE tenant_id = ? AND position < 0").run(t);
          raw
            .prepare(
              `INSERT INTO audit_events SELECT tenant_id, ?, 'forged-' || source_event_id, source, event_time_ms, actor_kind, actor_id, action,
            target_type, target_id, target_conversation_id, outcome, correlation_id, details, record_time_ms, ?, subject_form FROM audit_events WHERE tenant_id = ? AND position = ?`,
            )
            .run(p, forgedHash(), t, p - 1);
        })();
      },
      async setHash(t, p, hash) {
        raw.prepare("UPDATE audit_events SET hash = ? WHERE tenant_id = ? AND position = ?").run(Buffer.from(hash), t, p);
      },
      async forgeCheckpointSignature(t, p) {
        const row = raw.prepare("SELECT signature FROM audit_checkpoints WHERE tenant_id = ? AND position = ?").get(t, p) as { signature: Buffer };
        row.signature[0]! ^= 1;
        raw.prepare("UPDATE audit_checkpoints SET signature = ? WHERE tenant_id = ? AND position = ?").run(row.signature, t, p);
      },
    };
    return { a: inst.a, b: inst.b, tamper, close: async () => (raw.close(), inst.close()) };
  };
}

/** Each call: a fresh collection prefix opened by two stores and a raw driver handle. */
export function mongoAuditBackend(url: string, dbName: string): () => Promise<AuditBackendUnderTest> {
  return async () => {
    let prefix = "";
    const inst = await twoMongoInstances<ComplianceMongoDb, AuditStore>({
      url,
      dbName,
      name: "compliance",
      migrate: (db, collectionPrefix) => migrateComplianceMongo({ db, collectionPrefix }),
      make: (db, collectionPrefix) => ((prefix = collectionPrefix), createMongoAuditStore({ db, collectionPrefix })),
    })();
    const conn = await connectMongo(url, dbName, { appName: "compliance-tamper" });
    const events = conn.client.db(dbName).collection<Record<string, unknown>>(complianceCollections(prefix).events);
    const checkpoints = conn.client.db(dbName).collection<Record<string, unknown>>(complianceCollections(prefix).checkpoints);
    // Rewrites a tenant's documents as a whole: `_id` and `block` follow the position, so moving a record is a delete and an insert.
    const rewrite = async (t: string, change: (docs: Record<string, unknown>[]) => Record<string, unknown>[]) => {
      const docs = await events.find({ tenantId: t }).sort({ position: 1 }).toArray();
      const next = change(docs.map((d) => ({ ...d }))).map((d) => ({ ...d, _id: `${t}|${d.position as number}`, block: blockOf(d.position as number, RECORD_BLOCK) }));
      await events.deleteMany({ tenantId: t });
      if (next.length > 0) await events.insertMany(next as never[]);
    };
    const tamper: Tamper = {
      async editAction(t, p, action) {
        await events.updateOne({ tenantId: t, position: p }, { $set: { action } });
      },
      async deleteAt(t, p) {
        await events.deleteOne({ tenantId: t, position: p });
      },
      async swap(t, a, b) {
        await rewrite(t, (docs) => docs.map((d) => ({ ...d, position: d.position === a ? b : d.position === b ? a : d.position })));
      },
      async insertAt(t, p) {
        await rewrite(t, (docs) => {
          const before = docs.find((d) => d.position === p - 1)!;
          const shifted = docs.map((d) => ({ ...d, position: (d.position as number) >= p ? (d.position as number) + 1 : d.position }));
          return [...shifted, { ...before, position: p, sourceEventId: `forged-${String(before.sourceEventId)}`, hash: forgedHash() }];
        });
      },
      async setHash(t, p, hash) {
        await events.updateOne({ tenantId: t, position: p }, { $set: { hash: Buffer.from(hash) } });
      },
      async forgeCheckpointSignature(t, p) {
        const doc = (await checkpoints.findOne({ tenantId: t, position: p }))!;
        const signature = Buffer.from(bytesFromBson(doc.signature));
        signature[0]! ^= 1;
        await checkpoints.updateOne({ tenantId: t, position: p }, { $set: { signature } });
      },
    };
    return { a: inst.a, b: inst.b, tamper, close: async () => (await conn.close(), await inst.close()) };
  };
}

/** Each call: a fresh SQLite file opened by two privacy job stores. */
export function sqliteJobBackend(dir: string): () => Promise<JobStoresUnderTest> {
  return twoSqliteInstances({ dir, name: "compliance-jobs", open: (path) => openComplianceSqlite({ path }), make: (db) => createSqlitePrivacyJobStore({ db }) });
}

/** Each call: a fresh collection prefix opened by two privacy job stores. */
export function mongoJobBackend(url: string, dbName: string): () => Promise<JobStoresUnderTest> {
  return twoMongoInstances<MongoDb, PrivacyJobStore>({
    url,
    dbName,
    name: "compliance-jobs",
    migrate: (db, collectionPrefix) => migrateComplianceMongo({ db, collectionPrefix }),
    make: (db, collectionPrefix) => createMongoPrivacyJobStore({ db, collectionPrefix }),
  });
}

/** Each call: a fresh SQLite file opened by two retention stores. */
export function sqliteRetentionBackend(dir: string): () => Promise<RetentionStoresUnderTest> {
  return twoSqliteInstances({ dir, name: "compliance-retention", open: (path) => openComplianceSqlite({ path }), make: (db) => createSqliteRetentionStore({ db }) });
}

/** Each call: a fresh collection prefix opened by two retention stores. */
export function mongoRetentionBackend(url: string, dbName: string): () => Promise<RetentionStoresUnderTest> {
  return twoMongoInstances<MongoDb, RetentionStore>({
    url,
    dbName,
    name: "compliance-retention",
    migrate: (db, collectionPrefix) => migrateComplianceMongo({ db, collectionPrefix }),
    make: (db, collectionPrefix) => createMongoRetentionStore({ db, collectionPrefix }),
  });
}
