import type Database from "better-sqlite3";
import type { Config } from "@caas/shared/config";
import type { Logger } from "@caas/shared/logger";
import { openStoreSet, storeBackendForConfig } from "@caas/shared/store-set";
import type { AuthStores } from "./ports/auth-stores.js";
import { createSqliteApiKeyStore } from "./adapters/api-key-store-sqlite.js";
import type { AuthMongoDb } from "./adapters/auth-mongo.js";
import { openAuthSqlite } from "./adapters/auth-sqlite.js";
import { createSqliteAuthStateStore } from "./adapters/auth-state-store-sqlite.js";
import { createSqlitePasswordStore } from "./adapters/password-store-sqlite.js";
import { createSqliteTotpStore } from "./adapters/totp-store-sqlite.js";
import { createSqliteSessionStore } from "./adapters/session-store-sqlite.js";
import { createSqliteSigningKeyStore } from "./adapters/signing-key-store-sqlite.js";
import { createSqliteTenantStore } from "./adapters/tenant-store-sqlite.js";
import { createSqliteUserStore } from "./adapters/user-store-sqlite.js";
import { createSqliteRevocationStore } from "./adapters/revocation-store-sqlite.js";

export type { AuthStores } from "./ports/auth-stores.js";

/** The auth service's SQLite file under the data directory (embedded mode). */
export const AUTH_DB_FILE = "auth.db";

/**
 * The one place the auth adapters are chosen, from the run mode: embedded uses one SQLite file
 * (`<dataDir>/auth.db`), cluster uses MongoDB (CAAS_MONGO_URL, CAAS_MONGO_DB). Migrations run
 * here; the choice is logged.
 */
export async function openAuthStores(config: Config, logger: Logger): Promise<AuthStores> {
  const onMigrated = (result: { from: number; to: number; applied: number[] }) => logger.info(result, "auth schema migrated");
  const backend = await storeBackendForConfig(config, logger, "auth", AUTH_DB_FILE);
  return openStoreSet(backend, {
    sqlite: async (path) => {
      const db = await openAuthSqlite({ path, onMigrated });
      return {
        stores: sqliteAuthStores(db),
        release: async () => {
          db.close();
        },
      };
    },
    mongo: async (db) => {
      const { openMongoAuthStores } = await import("./adapters/auth-stores-mongo.js");
      return openMongoAuthStores(db as AuthMongoDb, onMigrated);
    },
  });
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
