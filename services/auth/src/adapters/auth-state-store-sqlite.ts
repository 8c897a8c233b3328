import type Database from "better-sqlite3";
import type { AuthStateStore } from "../ports/auth-state-store.js";
import { checkId, checkTime } from "./checks.js";

/**
 * The embedded AuthStateStore on the auth database (`openAuthSqlite`); the caller owns and closes
 * the database. INSERT OR IGNORE makes putIfAbsent first-writer-wins across connections.
 */
export function createSqliteAuthStateStore(opts: { db: Database.Database }): AuthStateStore {
  const { db } = opts;
  const read = db.prepare<[string], { value: string }>("SELECT value FROM auth_state WHERE name = ?");
  const insert = db.prepare("INSERT OR IGNORE INTO auth_state (name, value, create_time_ms) VALUES (?, ?, ?)");
  const putIfAbsent = db.transaction((name: string, value: string, nowMs: number) => {
    insert.run(name, value, nowMs);
    return read.get(name)!.value;
  });

  return {
    async get(name) {
      return read.get(checkId("name", name))?.value;
    },

    async putIfAbsent(name, value, nowMs) {
      checkId("name", name);
      if (typeof value !== "string") throw new RangeError("value must be a string");
      return putIfAbsent.immediate(name, value, checkTime("nowMs", nowMs));
    },

    async close() {},
  };
}
