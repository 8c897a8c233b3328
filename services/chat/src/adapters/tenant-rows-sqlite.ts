import type Database from "better-sqlite3";
import type { TenantRowEraser } from "../ports/chat-stores.js";

/**
 * Deletes a tenant's rows from every table of chat's SQLite database that has a `tenant_id`
 * column (found from the schema, so a table added later is covered too), but `data_keys`: the
 * shredded keys' record stays. A page is at most `limit` rows per table; the database is opened
 * with secure_delete, and the caller scrubs the WAL after the last page.
 */
export function createSqliteTenantRowEraser(db: Database.Database): TenantRowEraser {
  const tables = (db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string; sql: string }[])
    .filter((t) => t.name !== "data_keys" && !/^CREATE VIRTUAL/i.test(t.sql))
    .filter((t) => (db.pragma(`table_info("${t.name}")`) as { name: string }[]).some((c) => c.name === "tenant_id"))
    .map((t) => db.prepare<[string, number]>(`DELETE FROM "${t.name}" WHERE rowid IN (SELECT rowid FROM "${t.name}" WHERE tenant_id = ? LIMIT ?)`));
  return {
    async eraseTenantRows(tenantId, limit) {
      let removed = 0;
      let more = false;
      db.transaction(() => {
        for (const del of tables) {
          const n = del.run(tenantId, limit).changes;
          removed += n;
          if (n === limit) more = true;
        }
      })();
      return { removed, more };
    },
  };
}
