import type { Collection, CollectionOptions, Document } from "mongodb";
import { mongoMigrationTarget } from "@caas/shared/mongo/migrations";
import { runMigrations, type Migration, type MigrationResult } from "@caas/shared/migrations";
import type { MongoDb } from "@caas/shared/mongo";

/** The collection operations the auth Mongo adapters use, and nothing else. */
export type AuthMongoCollection<T extends Document = Document> = Pick<
  Collection<T>,
  "insertOne" | "insertMany" | "findOne" | "find" | "updateOne" | "updateMany" | "findOneAndUpdate" | "deleteOne" | "deleteMany" | "createIndex" | "indexes"
>;

/**
 * A database as the auth adapters see it (the driver's `Db` satisfies it). Wider than the shared
 * `MongoDb` by deletes and findOneAndUpdate; the driver itself is imported by services/shared mongo-client.
 */
export interface AuthMongoDb extends MongoDb {
  collection<T extends Document = Document>(name: string, options?: Pick<CollectionOptions, "readConcern" | "writeConcern">): AuthMongoCollection<T>;
}

/** Collection names, all starting with an optional prefix (tests give each run its own). */
export function authCollections(prefix = "") {
  return {
    tenants: `${prefix}auth_tenants`,
    apiKeys: `${prefix}auth_api_keys`,
    users: `${prefix}auth_users`,
    signingKeys: `${prefix}auth_signing_keys`,
    state: `${prefix}auth_state`,
    sessions: `${prefix}auth_sessions`,
    refreshTokens: `${prefix}auth_refresh_tokens`,
    refreshTokenUses: `${prefix}auth_refresh_token_uses`,
    passwords: `${prefix}auth_passwords`,
    totp: `${prefix}auth_totp`,
    totpClaims: `${prefix}auth_totp_claims`,
    revocations: `${prefix}auth_revocations`,
    migrations: `${prefix}auth_migrations`,
  };
}

/**
 * The auth service's MongoDB schema steps (indexes); append only, each idempotent (FerretDB has
 * no transactions, so a step may re-run after a crash). Documents of tenant data have `_id`s led
 * by the tenant id and secondary indexes led by `tenantId`; API keys are keyed by their
 * platform-unique id because admin RPCs and presented secrets name a key by id alone.
 */
export function authMongoMigrations(prefix = ""): Migration<MongoDb>[] {
  const c = authCollections(prefix);
  return [
    {
      version: 1,
      name: "auth indexes",
      async up(db) {
        await db.collection(c.apiKeys).createIndex({ tenantId: 1, id: -1 }, { unique: true, name: "tenant_id_desc" });
        await db.collection(c.users).createIndex({ tenantId: 1, id: 1 }, { unique: true, name: "tenant_id" });
        await db.collection(c.signingKeys).createIndex({ activateTimeMs: 1, _id: 1 }, { name: "activation" });
      },
    },
    {
      version: 2,
      name: "sessions",
      async up(db) {
        await db.collection(c.sessions).createIndex({ tenantId: 1, userId: 1, lastSeenTimeMs: -1, id: -1 }, { name: "tenant_user_seen" });
      },
    },
    {
      version: 3,
      name: "password logins by user",
      async up(db) {
        await db.collection(c.passwords).createIndex({ tenantId: 1, userId: 1 }, { name: "tenant_user" });
      },
    },
  ];
}

/** The database, the collection prefix and a hook for the migration result. */
export interface OpenAuthMongoOptions {
  db: AuthMongoDb;
  collectionPrefix?: string;
  onMigrated?: (result: MigrationResult) => void;
}

/** Brings the auth collections to the newest schema. The caller owns the client. */
export async function migrateAuthMongo(opts: OpenAuthMongoOptions): Promise<void> {
  const prefix = opts.collectionPrefix ?? "";
  const result = await runMigrations(mongoMigrationTarget(opts.db, authCollections(prefix).migrations), authMongoMigrations(prefix));
  opts.onMigrated?.(result);
}

/** Options every auth Mongo adapter takes. */
export interface MongoAdapterOptions {
  db: AuthMongoDb;
  collectionPrefix?: string;
}

/** Majority reads and writes: an acknowledged change survives a replica-set failover. */
export const MAJORITY = { readConcern: { level: "majority" as const }, writeConcern: { w: "majority" as const } };
