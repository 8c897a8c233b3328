import { closeSync, openSync } from "node:fs";
import Database from "better-sqlite3";
import { PRIVATE_FILE_MODE } from "./data-dir.js";

/**
 * Opens a SQLite database file the way every embedded store uses it: WAL (readers never block
 * the writer; several handles on one file behave like several processes), synchronous=NORMAL
 * (durable at each WAL checkpoint, safe against application crashes), and a busy timeout so a
 * second handle waits for the write lock instead of failing. A new file is created owner-only
 * (0600); SQLite gives its -wal and -shm files the mode of the database file.
 */
export function openSqliteDatabase(path: string): Database.Database {
  if (path !== "" && path !== ":memory:") createPrivateFile(path);
  const db = new Database(path);
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("busy_timeout = 5000");
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Creates an empty file owner-only unless it exists (SQLite takes an empty file as a new database). */
function createPrivateFile(path: string): void {
  try {
    closeSync(openSync(path, "wx", PRIVATE_FILE_MODE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
}
