import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { connectMongo } from "@caas/shared/mongo";
import { freshTenantScope, infraEnv, RUN_PREFIX } from "@caas/shared/testing";
import { mongoMigrationTarget } from "@caas/shared/mongo/migrations";
import { runMigrations } from "@caas/shared/migrations";
import { randomUUID } from "node:crypto";
import { complianceCollections, complianceMongoMigrations, migrateComplianceMongo, type ComplianceMongoDb } from "../src/adapters/audit-mongo.js";
import { createMongoAuditStore } from "../src/adapters/audit-store-mongo.js";
import { apiKeyOf, auditWorld, draft } from "./support/audit-world.js";
import { afterAll, describe, expect, it } from "vitest";
import { COMPLIANCE_SQLITE_MIGRATION_TABLE, openComplianceSqlite } from "../src/adapters/audit-sqlite.js";
import { auditStoreContract } from "./contract/audit-store.contract.js";
import { auditStoreRunContract } from "./contract/audit-store-runs.contract.js";
import { auditPseudonymContract } from "./contract/audit-pseudonyms.contract.js";
import { privacyJobStoreContract } from "./contract/privacy-job-store.contract.js";
import { retentionStoreContract } from "./contract/retention-store.contract.js";
import { mongoAuditBackend, mongoJobBackend, mongoRetentionBackend, sqliteAuditBackend, sqliteJobBackend, sqliteRetentionBackend } from "./support/backends.js";

const dir = mkdtempSync(join(tmpdir(), "caas-compliance-stores-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("audit store on SQLite (embedded)", () => {
  auditStoreContract("sqlite", sqliteAuditBackend(dir));
  auditStoreRunContract("sqlite", sqliteAuditBackend(dir));
  auditPseudonymContract("sqlite", sqliteAuditBackend(dir));
  privacyJobStoreContract("sqlite", sqliteJobBackend(dir));
  retentionStoreContract("sqlite", sqliteRetentionBackend(dir));

  it("creates STRICT, tenant-led tables through the migration runner, once", async () => {
    const path = join(dir, "schema.db");
    const runs: unknown[] = [];
    for (let i = 0; i < 2; i++) (await openComplianceSqlite({ path, onMigrated: (r) => runs.push(r) })).close();
    expect(runs).toEqual([
      { from: 0, to: 5, applied: [1, 2, 3, 4, 5] },
      { from: 5, to: 5, applied: [] },
    ]);
    const db = new Database(path);
    try {
      const tables = db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name != '${COMPLIANCE_SQLITE_MIGRATION_TABLE}'`).all() as { name: string; sql: string }[];
      expect(tables.map((t) => t.name).sort()).toEqual([
        "audit_checkpoints",
        "audit_erased_subjects",
        "audit_events",
        "audit_keys",
        "audit_subjects",
        "legal_holds",
        "privacy_jobs",
        "retention_policies",
      ]);
      for (const t of tables) expect(t.sql).toMatch(/\)\s*STRICT$/);
      for (const t of ["audit_events", "audit_checkpoints", "legal_holds", "audit_subjects", "audit_erased_subjects"]) {
        for (const { name } of db.prepare("SELECT name FROM pragma_index_list(?)").all(t) as { name: string }[]) {
          expect((db.prepare("SELECT name FROM pragma_index_info(?) ORDER BY seqno").all(name) as { name: string }[])[0]!.name).toBe("tenant_id");
        }
      }
    } finally {
      db.close();
    }
  });
});

const mongoUrl = infraEnv("CAAS_MONGO_URL");
const dbName = `${RUN_PREFIX}_compliance_stores`;

describe.skipIf(!mongoUrl)("audit store on the MongoDB protocol (cluster; FerretDB here)", () => {
  afterAll(async () => {
    const conn = await connectMongo(mongoUrl!, dbName);
    await conn.client.db(dbName).dropDatabase();
    await conn.close();
  });

  auditStoreContract("mongodb protocol", mongoAuditBackend(mongoUrl!, dbName));
  auditStoreRunContract("mongodb protocol", mongoAuditBackend(mongoUrl!, dbName));
  auditPseudonymContract("mongodb protocol", mongoAuditBackend(mongoUrl!, dbName));
  privacyJobStoreContract("mongodb protocol", mongoJobBackend(mongoUrl!, dbName));
  retentionStoreContract("mongodb protocol", mongoRetentionBackend(mongoUrl!, dbName));

  it("gives records and checkpoints stored before blocks their block and each tenant its checkpoint head, once", async () => {
    const conn = await connectMongo(mongoUrl!, dbName, { appName: "compliance-blocks" });
    try {
      const db = conn.client.db(dbName) as unknown as ComplianceMongoDb;
      const prefix = `t${randomUUID().replace(/-/g, "").slice(0, 12)}_`;
      const c = complianceCollections(prefix);
      const target = mongoMigrationTarget(db, c.migrations);
      await runMigrations(target, complianceMongoMigrations(prefix).slice(0, 5));
      const scope = freshTenantScope();
      await auditWorld(createMongoAuditStore({ db, collectionPrefix: prefix }), { checkpointEvery: 100 }).appender.appendBatch(
        scope,
        Array.from({ length: 300 }, (_, i) => draft(`old${i}`)),
      );
      // As written before blocks: no block field, no head document.
      await db.collection(c.events).updateMany({}, { $unset: { block: "" } });
      await db.collection(c.checkpoints).updateMany({}, { $unset: { block: "" } });
      await conn.client.db(dbName).collection(c.heads).deleteMany({});
      expect(await migrateComplianceMongo({ db, collectionPrefix: prefix })).toEqual({ from: 5, to: 6, applied: [6] });
      const store = createMongoAuditStore({ db, collectionPrefix: prefix });
      expect((await store.head(scope)).position).toBe(300n);
      expect((await store.checkpointAtOrBefore(scope, 299n))?.position).toBe(200n);
      const verdict = await auditWorld(store).service.verifyAuditLog({ startPosition: 0n, endPosition: 0n } as never, apiKeyOf(scope));
      expect(verdict).toMatchObject({ ok: true, recordsChecked: 300n, checkpointsChecked: 3n });
      expect(await migrateComplianceMongo({ db, collectionPrefix: prefix })).toEqual({ from: 6, to: 6, applied: [] });
    } finally {
      await conn.close();
    }
  });
});
