import type Database from "better-sqlite3";
import { twoMongoInstances, twoSqliteInstances, type OpenTwoInstances, type TwoInstances } from "@caas/shared/testing";
import { createMongoApiKeyStore } from "../../src/adapters/api-key-store-mongo.js";
import { createSqliteApiKeyStore } from "../../src/adapters/api-key-store-sqlite.js";
import { migrateAuthMongo, type AuthMongoDb } from "../../src/adapters/auth-mongo.js";
import { openAuthSqlite } from "../../src/adapters/auth-sqlite.js";
import { createMongoAuthStateStore } from "../../src/adapters/auth-state-store-mongo.js";
import { createSqliteAuthStateStore } from "../../src/adapters/auth-state-store-sqlite.js";
import { createMongoPasswordStore } from "../../src/adapters/password-store-mongo.js";
import { createSqlitePasswordStore } from "../../src/adapters/password-store-sqlite.js";
import { createMongoTotpStore } from "../../src/adapters/totp-store-mongo.js";
import { createSqliteTotpStore } from "../../src/adapters/totp-store-sqlite.js";
import { createMongoSessionStore } from "../../src/adapters/session-store-mongo.js";
import { createSqliteSessionStore } from "../../src/adapters/session-store-sqlite.js";
import { createMongoSigningKeyStore } from "../../src/adapters/signing-key-store-mongo.js";
import { createSqliteSigningKeyStore } from "../../src/adapters/signing-key-store-sqlite.js";
import { createMongoTenantStore } from "../../src/adapters/tenant-store-mongo.js";
import { createSqliteTenantStore } from "../../src/adapters/tenant-store-sqlite.js";
import { createMongoUserStore } from "../../src/adapters/user-store-mongo.js";
import { createSqliteUserStore } from "../../src/adapters/user-store-sqlite.js";
import { createMongoRevocationStore } from "../../src/adapters/revocation-store-mongo.js";
import { createSqliteRevocationStore } from "../../src/adapters/revocation-store-sqlite.js";
import type { RevocationStore } from "../../src/ports/revocation-store.js";
import type { ApiKeyStore } from "../../src/ports/api-key-store.js";
import type { AuthStateStore } from "../../src/ports/auth-state-store.js";
import type { PasswordStore } from "../../src/ports/password-store.js";
import type { SessionStore } from "../../src/ports/session-store.js";
import type { TotpStore } from "../../src/ports/totp-store.js";
import type { SigningKeyStore } from "../../src/ports/signing-key-store.js";
import type { TenantStore } from "../../src/ports/tenant-store.js";
import type { UserStore } from "../../src/ports/user-store.js";

/** One handle on every auth store of a backend, as one auth instance holds them. */
export interface StoreSet {
  tenants: TenantStore;
  apiKeys: ApiKeyStore;
  users: UserStore;
  signingKeys: SigningKeyStore;
  state: AuthStateStore;
  sessions: SessionStore;
  passwords: PasswordStore;
  totp: TotpStore;
  revocations: RevocationStore;
}

/** Two auth instances on one fresh backend namespace, like two auth processes sharing a database. */
export type Instances = TwoInstances<StoreSet>;
export type OpenInstances = OpenTwoInstances<StoreSet>;

function sqliteSet(db: Database.Database): StoreSet {
  return {
    tenants: createSqliteTenantStore({ db }),
    apiKeys: createSqliteApiKeyStore({ db }),
    users: createSqliteUserStore({ db }),
    signingKeys: createSqliteSigningKeyStore({ db }),
    state: createSqliteAuthStateStore({ db }),
    sessions: createSqliteSessionStore({ db }),
    passwords: createSqlitePasswordStore({ db }),
    totp: createSqliteTotpStore({ db }),
    revocations: createSqliteRevocationStore({ db }),
  };
}

/** A fresh SQLite file under `dir` per call, opened twice. */
export function sqliteInstances(dir: string): OpenInstances {
  return twoSqliteInstances({ dir, name: "auth", open: (path) => openAuthSqlite({ path }), make: sqliteSet });
}

function mongoSet(db: AuthMongoDb, collectionPrefix: string): StoreSet {
  return {
    tenants: createMongoTenantStore({ db, collectionPrefix }),
    apiKeys: createMongoApiKeyStore({ db, collectionPrefix }),
    users: createMongoUserStore({ db, collectionPrefix }),
    signingKeys: createMongoSigningKeyStore({ db, collectionPrefix }),
    state: createMongoAuthStateStore({ db, collectionPrefix }),
    sessions: createMongoSessionStore({ db, collectionPrefix }),
    passwords: createMongoPasswordStore({ db, collectionPrefix }),
    totp: createMongoTotpStore({ db, collectionPrefix }),
    revocations: createMongoRevocationStore({ db, collectionPrefix }),
  };
}

/** A fresh collection prefix in `dbName` per call, with two MongoClients. */
export function mongoInstances(url: string, dbName: string): OpenInstances {
  return twoMongoInstances<AuthMongoDb, StoreSet>({
    url,
    dbName,
    name: "auth",
    migrate: (db, collectionPrefix) => migrateAuthMongo({ db, collectionPrefix }),
    make: mongoSet,
  });
}
