import type Database from "better-sqlite3";
import { runMigrations, sqliteMigrationTarget, type Migration, type MigrationResult } from "@caas/shared/migrations";
import { foldForMatch } from "../domain/query.js";
import type { UserDirectory } from "../ports/user-directory.js";
import { tenantOf } from "./checks.js";

/** The table the directory's migrations are recorded in (the file is shared with the search index). */
export const USER_DIRECTORY_MIGRATION_TABLE = "user_directory_migrations";

const MIGRATIONS: Migration<Database.Database>[] = [
  {
    version: 1,
    name: "user directory and blocks",
    up(db) {
      db.exec(`
        -- name_words: the folded display name with one space before each word, so a word prefix
        -- is the substring ' <prefix>'.
        CREATE TABLE directory_user (
          tenant_id TEXT NOT NULL,
          user_id TEXT NOT NULL,
          display_name TEXT NOT NULL,
          avatar_url TEXT NOT NULL,
          name_folded TEXT NOT NULL,
          name_words TEXT NOT NULL,
          active INTEGER NOT NULL,
          PRIMARY KEY (tenant_id, user_id)
        ) STRICT;
        CREATE INDEX directory_user_name ON directory_user (tenant_id, name_folded, user_id);
        CREATE TABLE directory_block (
          tenant_id TEXT NOT NULL,
          blocked_id TEXT NOT NULL,
          blocker_id TEXT NOT NULL,
          PRIMARY KEY (tenant_id, blocked_id, blocker_id)
        ) STRICT;
      `);
    },
  },
];

/** The folded name and its word string (see the table comment). */
export function nameKeys(displayName: string): { nameFolded: string; nameWords: string } {
  const nameFolded = foldForMatch(displayName);
  const words = nameFolded.match(/[\p{L}\p{N}]+/gu) ?? [];
  return { nameFolded, nameWords: words.map((w) => ` ${w}`).join("") };
}

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * The embedded `UserDirectory` in SQLite, in a database the caller owns (search's file). A search
 * scans the tenant's rows in name order (a word prefix inside a name cannot use an index):
 * fine for directories of tens of thousands of users per tenant. Single machine only.
 */
export async function createSqliteUserDirectory(opts: { db: Database.Database; onMigrated?: (r: MigrationResult) => void }): Promise<UserDirectory> {
  const { db } = opts;
  const migrated = await runMigrations(sqliteMigrationTarget(db, USER_DIRECTORY_MIGRATION_TABLE), MIGRATIONS);
  opts.onMigrated?.(migrated);
  const put = db.prepare(`
    INSERT INTO directory_user (tenant_id, user_id, display_name, avatar_url, name_folded, name_words, active)
    VALUES (?, ?, ?, ?, ?, ?, 1)
    ON CONFLICT (tenant_id, user_id) DO UPDATE SET display_name = excluded.display_name, avatar_url = excluded.avatar_url,
      name_folded = excluded.name_folded, name_words = excluded.name_words`);
  const setActive = db.prepare("UPDATE directory_user SET active = ? WHERE tenant_id = ? AND user_id = ?");
  const removeUser = db.prepare("DELETE FROM directory_user WHERE tenant_id = ? AND user_id = ?");
  const removeBlocks = db.prepare("DELETE FROM directory_block WHERE tenant_id = ? AND (blocker_id = ? OR blocked_id = ?)");
  const block = db.prepare("INSERT OR IGNORE INTO directory_block (tenant_id, blocked_id, blocker_id) VALUES (?, ?, ?)");
  const unblock = db.prepare("DELETE FROM directory_block WHERE tenant_id = ? AND blocked_id = ? AND blocker_id = ?");
  return {
    async put(scope, u) {
      const { nameFolded, nameWords } = nameKeys(u.displayName);
      put.run(tenantOf(scope), u.userId, u.displayName, u.avatarUrl, nameFolded, nameWords);
    },
    async setActive(scope, userId, active) {
      setActive.run(active ? 1 : 0, tenantOf(scope), userId);
    },
    async remove(scope, userId) {
      const tenantId = tenantOf(scope);
      db.transaction(() => {
        removeUser.run(tenantId, userId);
        removeBlocks.run(tenantId, userId, userId);
      })();
    },
    async setBlock(scope, blockerId, blockedId, blocked) {
      (blocked ? block : unblock).run(tenantOf(scope), blockedId, blockerId);
    },
    async search(scope, q) {
      const tenantId = tenantOf(scope);
      // No usable word (the query was an id with punctuation only): match by id alone.
      const words = q.words.length > 0 ? q.words.map(() => `name_words LIKE ? ESCAPE '\\'`).join(" AND ") : "0";
      const sql = `
        SELECT user_id AS userId, display_name AS displayName, avatar_url AS avatarUrl, name_folded AS nameFolded
        FROM directory_user u
        WHERE tenant_id = ? AND active = 1
          AND ((${words}) OR (? <> '' AND substr(user_id, 1, length(?)) = ?))
          AND NOT EXISTS (SELECT 1 FROM directory_block b WHERE b.tenant_id = u.tenant_id AND b.blocked_id = ? AND b.blocker_id = u.user_id)
          AND (? IS NULL OR name_folded > ? OR (name_folded = ? AND user_id > ?))
        ORDER BY name_folded, user_id
        LIMIT ?`;
      const [afterName, afterId] = q.after ?? [null, null];
      return db
        .prepare(sql)
        .all(tenantId, ...q.words.map((w) => `% ${likeEscape(w)}%`), q.idPrefix, q.idPrefix, q.idPrefix, q.viewerId, afterName, afterName, afterName, afterId, q.limit) as DirectoryUserRow[];
    },
    async close() {},
  };
}

type DirectoryUserRow = { userId: string; displayName: string; avatarUrl: string; nameFolded: string };
