import type Database from "better-sqlite3";
import { AlreadyExistsError } from "@caas/shared/errors";
import type { SigningKeyStore } from "../ports/signing-key-store.js";
import { isSqliteUniqueViolation } from "./auth-sqlite.js";
import { checkId, checkSigningKeyRecord } from "./checks.js";

interface Row {
  kid: string;
  alg: string;
  public_jwk: string;
  encrypted_private_key: Buffer;
  create_time_ms: number;
  activate_time_ms: number;
}

const COLUMNS = "kid, alg, public_jwk, encrypted_private_key, create_time_ms, activate_time_ms";

/**
 * The embedded SigningKeyStore on the auth database (`openAuthSqlite`); the caller owns and
 * closes the database. Single machine only.
 */
export function createSqliteSigningKeyStore(opts: { db: Database.Database }): SigningKeyStore {
  const { db } = opts;
  const insert = db.prepare(`INSERT INTO signing_keys (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`);
  const all = db.prepare<[], Row>(`SELECT ${COLUMNS} FROM signing_keys ORDER BY activate_time_ms, kid`);
  const remove = db.prepare("DELETE FROM signing_keys WHERE kid = ?");
  const removeAll = db.transaction((kids: string[]) => {
    for (const kid of kids) remove.run(kid);
  });

  return {
    async insert(record) {
      checkSigningKeyRecord(record);
      try {
        insert.run(record.kid, record.alg, record.publicJwk, record.encryptedPrivateKey, record.createTimeMs, record.activateTimeMs);
      } catch (err) {
        if (isSqliteUniqueViolation(err)) throw new AlreadyExistsError(`signing key ${record.kid} already exists`);
        throw err;
      }
    },

    async list() {
      return all.all().map((r) => ({
        kid: r.kid,
        alg: r.alg,
        publicJwk: r.public_jwk,
        encryptedPrivateKey: new Uint8Array(r.encrypted_private_key.buffer, r.encrypted_private_key.byteOffset, r.encrypted_private_key.byteLength),
        createTimeMs: r.create_time_ms,
        activateTimeMs: r.activate_time_ms,
      }));
    },

    async delete(kids) {
      removeAll(kids.map((k) => checkId("kid", k)));
    },

    async close() {},
  };
}
