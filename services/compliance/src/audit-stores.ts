import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "@caas/shared/config";
import type { Logger } from "@caas/shared/logger";
import type { MigrationResult } from "@caas/shared/migrations";
import { openComplianceSqlite } from "./adapters/audit-sqlite.js";
import { createSqliteAuditStore } from "./adapters/audit-store-sqlite.js";
import { createSqlitePrivacyJobStore } from "./adapters/privacy-job-store-sqlite.js";
import { createSqliteRetentionStore } from "./adapters/retention-store-sqlite.js";
import type { AuditStore } from "./ports/audit-store.js";
import type { PrivacyJobStore } from "./ports/privacy-job-store.js";
import type { RetentionStore } from "./ports/retention-store.js";

/** Compliance's SQLite file under the data directory (embedded mode). */
export const COMPLIANCE_DB_FILE = "compliance.db";

/** Where the audit store lives. */
export type AuditBackend = { kind: "sqlite"; path: string } | { kind: "mongo"; url: string; database: string; appName: string; collectionPrefix?: string };

/**
 * The one place the audit store adapter is chosen: embedded mode uses `<dataDir>/compliance.db`,
 * cluster mode MongoDB (CAAS_MONGO_URL, CAAS_MONGO_DB) with `compliance_`-prefixed collections.
 */
export async function openAuditStoreForConfig(config: Config, logger: Logger): Promise<AuditStore> {
  switch (config.mode) {
    case "embedded": {
      await mkdir(config.dataDir, { recursive: true });
      const path = join(config.dataDir, COMPLIANCE_DB_FILE);
      logger.info({ adapter: "sqlite", path }, "audit store");
      return openAuditStore({ kind: "sqlite", path }, { logger });
    }
    case "cluster": {
      const url = config.cluster.mongoUrl;
      if (!url) throw new Error("the compliance service needs CAAS_MONGO_URL in cluster mode");
      logger.info({ adapter: "mongodb", database: config.cluster.mongoDb }, "audit store");
      return openAuditStore({ kind: "mongo", url, database: config.cluster.mongoDb, appName: config.instanceId }, { logger });
    }
  }
}

/** Opens (and migrates) the audit store on one backend; its `close` releases the connection. */
export async function openAuditStore(backend: AuditBackend, deps: { logger?: Logger } = {}): Promise<AuditStore> {
  const onMigrated = (result: MigrationResult) => deps.logger?.info(result, "compliance schema migrated");
  switch (backend.kind) {
    case "sqlite": {
      const db = await openComplianceSqlite({ path: backend.path, onMigrated });
      return { ...createSqliteAuditStore({ db }), close: async () => void db.close() };
    }
    case "mongo": {
      // Loaded here, not at import: embedded mode never needs the MongoDB driver.
      const [{ connectMongo }, { migrateComplianceMongo }, { createMongoAuditStore }] = await Promise.all([
        import("@caas/shared/mongo"),
        import("./adapters/audit-mongo.js"),
        import("./adapters/audit-store-mongo.js"),
      ]);
      const conn = await connectMongo(backend.url, backend.database, { appName: backend.appName });
      try {
        const db = conn.database(backend.database);
        const collectionPrefix = backend.collectionPrefix ?? "compliance_";
        await migrateComplianceMongo({ db, collectionPrefix, onMigrated });
        return { ...createMongoAuditStore({ db, collectionPrefix }), close: () => conn.close() };
      } catch (err) {
        await conn.close();
        throw err;
      }
    }
  }
}

/** The privacy job store on the same backend as the audit store (its own connection; the schema is migrated by whichever opens first). */
export async function openPrivacyJobStore(backend: AuditBackend, deps: { logger?: Logger } = {}): Promise<PrivacyJobStore> {
  const onMigrated = (result: MigrationResult) => deps.logger?.info(result, "compliance schema migrated");
  switch (backend.kind) {
    case "sqlite": {
      const db = await openComplianceSqlite({ path: backend.path, onMigrated });
      return { ...createSqlitePrivacyJobStore({ db }), close: async () => void db.close() };
    }
    case "mongo": {
      const [{ connectMongo }, { migrateComplianceMongo }, { createMongoPrivacyJobStore }] = await Promise.all([
        import("@caas/shared/mongo"),
        import("./adapters/audit-mongo.js"),
        import("./adapters/privacy-job-store-mongo.js"),
      ]);
      const conn = await connectMongo(backend.url, backend.database, { appName: backend.appName });
      try {
        const db = conn.database(backend.database);
        const collectionPrefix = backend.collectionPrefix ?? "compliance_";
        await migrateComplianceMongo({ db, collectionPrefix, onMigrated });
        return { ...createMongoPrivacyJobStore({ db, collectionPrefix }), close: () => conn.close() };
      } catch (err) {
        await conn.close();
        throw err;
      }
    }
  }
}

/** The retention policy and legal hold store on the same backend as the audit store (its own connection). */
export async function openRetentionStore(backend: AuditBackend, deps: { logger?: Logger } = {}): Promise<RetentionStore> {
  const onMigrated = (result: MigrationResult) => deps.logger?.info(result, "compliance schema migrated");
  switch (backend.kind) {
    case "sqlite": {
      const db = await openComplianceSqlite({ path: backend.path, onMigrated });
      return { ...createSqliteRetentionStore({ db }), close: async () => void db.close() };
    }
    case "mongo": {
      const [{ connectMongo }, { migrateComplianceMongo }, { createMongoRetentionStore }] = await Promise.all([
        import("@caas/shared/mongo"),
        import("./adapters/audit-mongo.js"),
        import("./adapters/retention-store-mongo.js"),
      ]);
      const conn = await connectMongo(backend.url, backend.database, { appName: backend.appName });
      try {
        const db = conn.database(backend.database);
        await migrateComplianceMongo({ db, collectionPrefix: backend.collectionPrefix ?? "compliance_", onMigrated });
        return { ...createMongoRetentionStore({ db, collectionPrefix: backend.collectionPrefix ?? "compliance_" }), close: () => conn.close() };
      } catch (err) {
        await conn.close();
        throw err;
      }
    }
  }
}

/** The backend of this run mode (see openAuditStoreForConfig). */
export async function complianceBackendOf(config: Config): Promise<AuditBackend> {
  if (config.mode === "embedded") {
    await mkdir(config.dataDir, { recursive: true });
    return { kind: "sqlite", path: join(config.dataDir, COMPLIANCE_DB_FILE) };
  }
  const url = config.cluster.mongoUrl;
  if (!url) throw new Error("the compliance service needs CAAS_MONGO_URL in cluster mode");
  return { kind: "mongo", url, database: config.cluster.mongoDb, appName: config.instanceId };
}
