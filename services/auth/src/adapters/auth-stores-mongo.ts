import type { MigrationResult } from "@caas/shared/migrations";
import type { AuthStores } from "../ports/auth-stores.js";
import { createMongoApiKeyStore } from "./api-key-store-mongo.js";
import { migrateAuthMongo, type AuthMongoDb } from "./auth-mongo.js";
import { createMongoAuthStateStore } from "./auth-state-store-mongo.js";
import { createMongoPasswordStore } from "./password-store-mongo.js";
import { createMongoRevocationStore } from "./revocation-store-mongo.js";
import { createMongoSessionStore } from "./session-store-mongo.js";
import { createMongoSigningKeyStore } from "./signing-key-store-mongo.js";
import { createMongoTenantStore } from "./tenant-store-mongo.js";
import { createMongoTotpStore } from "./totp-store-mongo.js";
import { createMongoUserStore } from "./user-store-mongo.js";

/*
 * The auth stores on MongoDB, in a module of their own: the store opener imports it only in
 * cluster mode, so the embedded mode never loads the driver.
 */

/** Migrates the auth collections, then builds every auth store on them. */
export async function openMongoAuthStores(db: AuthMongoDb, onMigrated: (result: MigrationResult) => void): Promise<Omit<AuthStores, "close">> {
  await migrateAuthMongo({ db, onMigrated });
  return mongoAuthStores(db);
}

/** Every auth store on one migrated MongoDB database, under `collectionPrefix` when given. */
export function mongoAuthStores(db: AuthMongoDb, collectionPrefix?: string): Omit<AuthStores, "close"> {
  const o = collectionPrefix === undefined ? { db } : { db, collectionPrefix };
  return {
    tenants: createMongoTenantStore(o),
    apiKeys: createMongoApiKeyStore(o),
    users: createMongoUserStore(o),
    signingKeys: createMongoSigningKeyStore(o),
    state: createMongoAuthStateStore(o),
    sessions: createMongoSessionStore(o),
    passwords: createMongoPasswordStore(o),
    totp: createMongoTotpStore(o),
    revocations: createMongoRevocationStore(o),
  };
}
