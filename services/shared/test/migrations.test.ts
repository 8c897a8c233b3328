import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { runMigrations, sqliteMigrationTarget, type Migration } from "../src/migrations.js";

type Db = Database.Database;
const v1: Migration<Db> = { version: 1, name: "create", up: (db) => void db.exec("CREATE TABLE t (id TEXT PRIMARY KEY) STRICT") };
const v2: Migration<Db> = { version: 2, name: "add column", up: (db) => void db.exec("ALTER TABLE t ADD COLUMN name TEXT") };

describe("runMigrations on SQLite", () => {
  it("applies pending migrations once, in order, and upgrades an older store", async () => {
    const db = new Database(":memory:");
    const first = await runMigrations(sqliteMigrationTarget(db), [v1]);
    expect(first).toEqual({ from: 0, to: 1, applied: [1] });
    db.prepare("INSERT INTO t (id) VALUES ('a')").run();
    const second = await runMigrations(sqliteMigrationTarget(db), [v1, v2]);
    expect(second).toEqual({ from: 1, to: 2, applied: [2] });
    expect(db.prepare("SELECT id, name FROM t").all()).toEqual([{ id: "a", name: null }]);
    const third = await runMigrations(sqliteMigrationTarget(db), [v1, v2]);
    expect(third.applied).toEqual([]);
  });

  it("rolls back a failing migration entirely", async () => {
    const db = new Database(":memory:");
    const broken: Migration<Db> = {
      version: 2,
      name: "broken",
      up: (d) => {
        d.exec("CREATE TABLE half (x TEXT)");
        d.exec("THIS IS NOT SQL");
      },
    };
    await expect(runMigrations(sqliteMigrationTarget(db), [v1, broken])).rejects.toThrow();
    expect(db.prepare("SELECT version FROM schema_migrations").all()).toEqual([{ version: 1 }]);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'half'").get()).toBeUndefined();
  });

  it("refuses data written by a newer release and malformed migration lists", async () => {
    const db = new Database(":memory:");
    await runMigrations(sqliteMigrationTarget(db), [v1, v2]);
    await expect(runMigrations(sqliteMigrationTarget(db), [v1])).rejects.toThrow(/does not know/);
    await expect(runMigrations(sqliteMigrationTarget(new Database(":memory:")), [v2, v1])).rejects.toThrow(/strictly increasing/);
  });
});
