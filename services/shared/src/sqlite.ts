import Database from "better-sqlite3";

/**
 * Opens a SQLite database file the way every embedded store uses it: WAL (readers never block
 * the writer; several handles on one file behave like several processes), synchronous=NORMAL
 * (durable at each WAL checkpoint, safe against application crashes), and a busy timeout so a
 * second handle waits for the write lock instead of failing.
 */
export function openSqliteDatabase(path: string): Database.Database {
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
