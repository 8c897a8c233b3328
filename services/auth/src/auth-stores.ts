import type Database from "better-sqlite3";
import { join } from "node:path";
import { connectMongo, ensurePrivateDir, type Config, type Logger } from "@caas/shared";
import { createSqliteApiKeyStore } from "./adapters/api-key-store-sqlite.js";
import { createMongoApiKeyStore } from "./adapters/api-key-store-mongo.js";
import { migrateAuthMongo, type AuthMongoDb } from "./adapters/auth-mongo.js";
import { openAuthSqlite } from "./adapters/auth-sqlite.js";
import { createSqliteAuthStateStore } from "./adapters/auth-state-store-sqlite.js";
import { createMongoAuthStateStore } from "./adapters/auth-state-store-mongo.js";
import { createSqlitePasswordStore } from "./adapters/password-store-sqlite.js";
import { createMongoPasswordStore } from "./adapters/password-store-mongo.js";
import { createSqliteTotpStore } from "./adapters/totp-store-sqlite.js";
import { createMongoTotpStore } from "./adapters/totp-store-mongo.js";
import { createSqliteSessionStore } from "./adapters/session-store-sqlite.js";
import { createMongoSessionStore } from "./adapters/session-store-mongo.js";
import { createSqliteSigningKeyStore } from "./adapters/signing-key-store-sqlite.js";
import { createMongoSigningKeyStore } from "./adapters/signing-key-store-mongo.js";
import { createSqliteTenantStore } from "./adapters/tenant-store-sqlite.js";
import { createMongoTenantStore } from "./adapters/tenant-store-mongo.js";
import { createSqliteUserStore } from "./adapters/user-store-sqlite.js";
import { createMongoUserStore } from "./adapters/user-store-mongo.js";
import { createSqliteRevocationStore } from "./adapters/revocation-store-sqlite.js";
import { createMongoRevocationStore } from "./adapters/revocation-store-mongo.js";
import type { RevocationStore } from "./ports/revocation-store.js";
import type { ApiKeyStore } from "./ports/api-key-store.js";
import type { AuthStateStore } from "./ports/auth-state-store.js";
import type { PasswordStore } from "./ports/password-store.js";
import type { SessionStore } from "./ports/session-store.js";
import type { TotpStore } from "./ports/totp-store.js";
import type { SigningKeyStore } from "./ports/signing-key-store.js";
import type { TenantStore } from "./ports/tenant-store.js";
import type { UserStore } from "./ports/user-store.js";

/** Every store of the auth service, on one backend. */
export interface AuthStores {
  tenants: TenantStore;
  apiKeys: ApiKeyStore;
  users: UserStore;
  signingKeys: SigningKeyStore;
  state: AuthStateStore;
  sessions: SessionStore;
  passwords: PasswordStore;
  totp: TotpStore;
  revocations: RevocationStore;
  /** Closes the stores, then the database connection they share. */
  close(): Promise<void>;
}

/** The auth service's SQLite file under the data directory (embedded mode). */
export const AUTH_DB_FILE = "auth.db";

/**
 * The one place the auth adapters are chosen, from the run mode: embedded uses one SQLite file
 * (`<dataDir>/auth.db`), cluster uses MongoDB (CAAS_MONGO_URL, CAAS_MONGO_DB). Migrations run
 * here; the choice is logged.
 */
export async function openAuthStores(config: Config, logger: Logger): Promise<AuthStores> {
  const onMigrated = (result: { from: number; to: number; applied: number[] }) => logger.info(result, "auth schema migrated");
  switch (config.mode) {
    case "embedded": {
      await ensurePrivateDir(config.dataDir);
      const path = join(config.dataDir, AUTH_DB_FILE);
      const db = await openAuthSqlite({ path, onMigrated });
      logger.info({ adapter: "sqlite", path }, "auth stores opened");
      return assemble(
        sqliteAuthStores(db),
        async () => {
          db.close();
        },
      );
    }
    case "cluster": {
      const url = config.cluster.mongoUrl;
      if (!url) throw new Error("the auth service needs CAAS_MONGO_URL in cluster mode");
      const conn = await connectMongo(url, config.cluster.mongoDb, { appName: config.instanceId });
      try {
        const db = conn.database(config.cluster.mongoDb) as AuthMongoDb;
        await migrateAuthMongo({ db, onMigrated });
        logger.info({ adapter: "mongodb", database: config.cluster.mongoDb }, "auth stores opened");
        return assemble(
          mongoAuthStores(db),
          () => conn.close(),
        );
      } catch (err) {
        await conn.close();
        throw err;
      }
    }
  }
}

/** Every auth store on one open, migrated SQLite database (also how tests open two instances on one file). */
export function sqliteAuthStores(db: Database.Database): Omit<AuthStores, "close"> {
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

function assemble(stores: Omit<AuthStores, "close">, release: () => Promise<void>): AuthStores {
  let closing: Promise<void> | undefined;
  return {
    ...stores,
    close: () =>
      (closing ??= (async () => {
        for (const s of Object.values(stores)) await s.close();
        await release();
      })()),
  };
}
