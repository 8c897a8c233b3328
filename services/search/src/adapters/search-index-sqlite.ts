import { createHash } from "node:crypto";
import type Database from "better-sqlite3";
import { openSqliteDatabase } from "@caas/shared/sqlite";
import type { Clock } from "@caas/shared/clock";
import { runMigrations, sqliteMigrationTarget, type Migration, type MigrationResult } from "@caas/shared/migrations";
import type { PageTokenCodec } from "@caas/shared/page-token";
import { SEARCH_INDEX_SCHEMA_VERSION, type SearchHit, type SearchIndex, type SearchOrder } from "../ports/search-index.js";
import { checkName, tenantOf } from "./checks.js";
import { buildSnippet, checkBatchLimit, checkDocs, checkMessageIds, checkSearch, parseMarked, type SearchKey } from "./search-index-support.js";

export interface SqliteSearchIndexOptions {
  /**
   * An open database shared with the service's other stores; its owner configured it (WAL) and
   * closes it. Exactly one of `db` and `path`.
   */
  db?: Database.Database;
  /** A database file this index opens (WAL, synchronous=NORMAL, busy_timeout) and closes. */
  path?: string;
  /** Stamps `indexed_time_ms` (when a row was last written) for operators. */
  clock: Clock;
  pageTokens: PageTokenCodec;
  /**
   * Runs `SEARCH_INDEX_SQLITE_MIGRATIONS` on open (default true), recorded in their own
   * `search_index_migrations` table so the file can be shared with stores that use the default
   * `schema_migrations` table.
   */
  migrate?: boolean;
  /** Told what the migration run did (for the startup log). */
  onMigrated?: (result: MigrationResult) => void;
}

/** How long after a deletion the WAL is truncated (deletions in one burst share one checkpoint). */
const SCRUB_DELAY_MS = 500;

/** The table `SEARCH_INDEX_SQLITE_MIGRATIONS` are recorded in. */
export const SEARCH_INDEX_MIGRATION_TABLE = "search_index_migrations";

/** The search index's schema steps; append only, never edit a released one. */
export const SEARCH_INDEX_SQLITE_MIGRATIONS: Migration<Database.Database>[] = [
  {
    version: 1,
    name: "search index",
    up(db) {
      db.exec(`
        -- One row per message (tombstones included); doc_id is the rowid of its FTS row.
        CREATE TABLE search_message (
          doc_id INTEGER PRIMARY KEY,
          tenant_id TEXT NOT NULL,
          message_id TEXT NOT NULL,
          conversation_id TEXT NOT NULL,
          seq INTEGER NOT NULL,
          version INTEGER NOT NULL,
          sender_id TEXT NOT NULL,
          create_time_ms INTEGER NOT NULL,
          redacted INTEGER NOT NULL,
          indexed_time_ms INTEGER NOT NULL,
          UNIQUE (tenant_id, message_id)
        ) STRICT;
        CREATE INDEX search_message_conversation ON search_message (tenant_id, conversation_id);
        -- text: the searchable words. acl: one token naming (tenant, conversation), so a query
        -- selects the caller's conversations of its tenant inside the full-text index itself.
        CREATE VIRTUAL TABLE search_message_fts USING fts5(text, acl, tokenize = 'unicode61 remove_diacritics 2');
      `);
    },
  },
  {
    version: 2,
    name: "attachments flag and document schema version",
    up(db) {
      // Rows written before carry schema version 1 and no attachment flag: the service rebuilds
      // them from chat's log (SEARCH_INDEX_SCHEMA_VERSION).
      db.exec(`
        ALTER TABLE search_message ADD COLUMN has_attachments INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE search_message ADD COLUMN schema_version INTEGER NOT NULL DEFAULT 1;
        CREATE INDEX search_message_schema ON search_message (schema_version, tenant_id);
      `);
    },
  },
  {
    version: 3,
    name: "documents by sender (data-subject erasure)",
    up(db) {
      db.exec("CREATE INDEX search_message_sender ON search_message (tenant_id, sender_id)");
    },
  },
];

interface HitRow {
  doc_id: number;
  message_id: string;
  conversation_id: string;
  seq: number;
  sender_id: string;
  create_time_ms: number;
  score: number;
}

/** The FTS token of one conversation of one tenant (hex: a single unicode61 token). */
function aclToken(tenantId: string, conversationId: string): string {
  return `a${createHash("sha256").update(`${tenantId}\u0000${conversationId}`).digest("hex").slice(0, 32)}`;
}

/** Up to this many conversations, their ACL tokens always go into the full-text match (see search). */
const ACL_TOKEN_MAX = 16;

/**
 * The cost model of a search over many conversations (see search). With their ACL tokens in the
 * match, FTS5 walks the rows of the caller's conversations, bm25 adding a little per token per
 * row; with the words alone, it walks the rows of the whole file that have the words and the join
 * drops the other conversations' rows. Measured at 963,000 messages in 10,000 conversations, 200
 * of them searched (19,400 rows), in CPU time: the tokens' plan costs 6 ms with no hit (parsing
 * and opening 200 terms), 15-30 ms for words in 1,400-80,000 rows and 95 ms for the commonest word
 * (753,000 rows); the words alone cost 0.1 ms, 5-87 ms and 210 ms. They cross at words in about
 * 6,000 rows, 0.3 times the conversations' rows at 200 tokens (PROBE_SHARE x (1 + 200 x
 * COST_PER_TOKEN_ROW)). The tokens' plan stops paying once the conversations hold more than a
 * few percent of the file (at 200 conversations holding all 20,000 messages it took 561 ms
 * against 95 ms): WORD_PLAN_SHARE x the file at 1 + tokens x COST_PER_TOKEN_ROW per row.
 */
const COST_PER_TOKEN_ROW = 1 / 50;
const WORD_PLAN_SHARE = 0.4;
const PROBE_SHARE = 0.06;

/** An FTS5 string literal: the engine tokenizes it, so user text is never query syntax. */
const literal = (s: string) => `"${s.replace(/"/g, '""')}"`;

/**
 * The embedded `SearchIndex` on better-sqlite3's FTS5: unicode61 tokenizer folding case and
 * diacritics, bm25 ranking, highlight() for snippets. Every row carries its tenant; a search
 * over a few conversations matches the words AND one (tenant, conversation) token per allowed
 * conversation inside FTS5; every search filters on the row's tenant and conversation. Writes are visible when their
 * promise resolves (`refresh` has nothing to do). Every transaction is synchronous. Several
 * connections to one file are fine (WAL); single machine only. bm25 statistics (term rarity)
 * are those of the whole file, all tenants together.
 */
export async function createSqliteSearchIndex(opts: SqliteSearchIndexOptions): Promise<SearchIndex> {
  if ((opts.db === undefined) === (opts.path === undefined)) throw new TypeError("give exactly one of db and path");
  const owned = opts.db === undefined;
  const db = opts.db ?? openSqliteDatabase(opts.path!);
  const { clock, pageTokens } = opts;
  try {
    if (opts.migrate ?? true) {
      const result = await runMigrations(sqliteMigrationTarget(db, SEARCH_INDEX_MIGRATION_TABLE), SEARCH_INDEX_SQLITE_MIGRATIONS);
      opts.onMigrated?.(result);
    }
  } catch (err) {
    if (owned) db.close();
    throw err;
  }

  // Deleted text must leave the file (erasure, deletes): freed pages are zeroed, FTS5 removes a
  // deleted row's terms from its index segments instead of appending a delete marker beside
  // them (without it the terms stay in the file until a merge), and the WAL, whose older frames
  // hold pages as they were, is truncated shortly after deletions.
  db.pragma("secure_delete = ON");
  db.prepare("INSERT INTO search_message_fts(search_message_fts, rank) VALUES ('secure-delete', 1)").run();
  let scrubTimer: NodeJS.Timeout | undefined;
  const scrubSoon = () => {
    if (scrubTimer) return;
    scrubTimer = setTimeout(() => {
      scrubTimer = undefined;
      if (!closed) db.pragma("wal_checkpoint(TRUNCATE)");
    }, SCRUB_DELAY_MS);
    scrubTimer.unref();
  };

  const current = db.prepare<[string, string], { doc_id: number; version: number; schema_version: number }>(
    "SELECT doc_id, version, schema_version FROM search_message WHERE tenant_id = ? AND message_id = ?",
  );
  const insertRow = db.prepare(
    `INSERT INTO search_message (tenant_id, message_id, conversation_id, seq, version, sender_id, create_time_ms, redacted, has_attachments, schema_version, indexed_time_ms)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ${SEARCH_INDEX_SCHEMA_VERSION}, ?)`,
  );
  const updateRow = db.prepare(
    `UPDATE search_message SET conversation_id = ?, seq = ?, version = ?, sender_id = ?, create_time_ms = ?, redacted = ?, has_attachments = ?,
       schema_version = ${SEARCH_INDEX_SCHEMA_VERSION}, indexed_time_ms = ?
     WHERE doc_id = ?`,
  );
  const countBySchema = db.prepare<[], { documents: number; current: number; oldest: number | null }>(
    `SELECT COUNT(*) AS documents, COALESCE(SUM(schema_version = ${SEARCH_INDEX_SCHEMA_VERSION}), 0) AS current, MIN(schema_version) AS oldest FROM search_message`,
  );
  const staleTenants = db.prepare<[number], { tenant_id: string }>(`SELECT DISTINCT tenant_id FROM search_message WHERE schema_version < ${SEARCH_INDEX_SCHEMA_VERSION} ORDER BY tenant_id LIMIT ?`);
  const insertText = db.prepare("INSERT INTO search_message_fts (rowid, text, acl) VALUES (?, ?, ?)");
  const deleteText = db.prepare("DELETE FROM search_message_fts WHERE rowid = ?");
  const byIds = db.prepare<[string, string], { doc_id: number }>("SELECT doc_id FROM search_message WHERE tenant_id = ? AND message_id IN (SELECT value FROM json_each(?))");
  const byConversation = db.prepare<[string, string], { doc_id: number }>("SELECT doc_id FROM search_message WHERE tenant_id = ? AND conversation_id = ?");
  const bySender = db.prepare<[string, string, number], { doc_id: number }>("SELECT doc_id FROM search_message WHERE tenant_id = ? AND sender_id = ? LIMIT ?");
  const byTenant = db.prepare<[string, number], { doc_id: number }>("SELECT doc_id FROM search_message WHERE tenant_id = ? LIMIT ?");
  const deleteRow = db.prepare("DELETE FROM search_message WHERE doc_id = ?");
  // All three bounded: the highest doc id (rows ever written, an upper bound of the rows) is one
  // index step, and the counts stop at their limit.
  const lastDocId = db.prepare<[], { n: number | null }>("SELECT MAX(doc_id) AS n FROM search_message");
  const countRows = db.prepare<[string, string, number], { n: number }>(
    "SELECT COUNT(*) AS n FROM (SELECT 1 FROM search_message WHERE tenant_id = ? AND conversation_id IN (SELECT value FROM json_each(?)) LIMIT ?)",
  );
  const countMatches = db.prepare<[string, number], { n: number }>("SELECT COUNT(*) AS n FROM (SELECT rowid FROM search_message_fts WHERE search_message_fts MATCH ? LIMIT ?)");
  /**
   * Whether the ACL tokens of these conversations go into the match: always for a few; for
   * more, when walking their rows (each costing more with every token) is cheaper than walking
   * the rows of the file that have the words (`text`, the words' match). Counting those is
   * cheap next to either plan (FTS5 reads rowids only), and stops where the tokens win.
   */
  const matchAcl = (tenantId: string, conversationIds: readonly string[], text: string): boolean => {
    if (conversationIds.length <= ACL_TOKEN_MAX) return true;
    const perRow = 1 + conversationIds.length * COST_PER_TOKEN_ROW;
    const cap = Math.ceil(((lastDocId.get()?.n ?? 0) * WORD_PLAN_SHARE) / perRow);
    const rows = countRows.get(tenantId, JSON.stringify(conversationIds), cap)!.n;
    if (rows >= cap) return false;
    const limit = Math.max(1, Math.ceil(rows * perRow * PROBE_SHARE));
    return countMatches.get(text, limit)!.n >= limit;
  };
  // The alias `score` in WHERE is an SQLite extension; bm25 gives the acl column no weight.
  // CROSS JOIN keeps the full-text match as the outer loop: left to itself the planner may walk
  // the caller's conversations' rows and run the whole MATCH once per row (measured: 0.4 s for
  // 500 rows in 50 conversations, against 1 ms this way).
  const hitsQuery = (order: SearchOrder) =>
    db.prepare<unknown[], HitRow>(`
    SELECT m.doc_id, m.message_id, m.conversation_id, m.seq, m.sender_id, m.create_time_ms,
           -bm25(search_message_fts, 1.0, 0.0) AS score
    FROM search_message_fts CROSS JOIN search_message m ON m.doc_id = search_message_fts.rowid
    WHERE search_message_fts MATCH :match
      AND m.tenant_id = :tenant
      AND m.conversation_id IN (SELECT value FROM json_each(:conversations))
      AND m.redacted = 0
      AND (:senders IS NULL OR m.sender_id IN (SELECT value FROM json_each(:senders)))
      AND m.seq <= COALESCE((SELECT b.value FROM json_each(:maxSeqs) b WHERE b.key = m.conversation_id), m.seq)
      AND (:sentAfter IS NULL OR m.create_time_ms >= :sentAfter)
      AND (:sentBefore IS NULL OR m.create_time_ms < :sentBefore)
      AND (:attachments IS NULL OR m.has_attachments = :attachments)
      ${
        order === "relevance"
          ? `AND (:afterScore IS NULL OR score < :afterScore OR (score = :afterScore AND
            (m.create_time_ms < :afterTime OR (m.create_time_ms = :afterTime AND m.message_id < :afterId))))
    ORDER BY score DESC, m.create_time_ms DESC, m.message_id DESC`
          : `AND (:afterScore IS NULL OR m.create_time_ms < :afterTime OR (m.create_time_ms = :afterTime AND m.message_id < :afterId))
    ORDER BY m.create_time_ms DESC, m.message_id DESC`
      }
    LIMIT :limit`);
  const findHits = { relevance: hitsQuery("relevance"), newest: hitsQuery("newest") };
  // Highlighting only the hits of the page (not every match before the LIMIT). The CAST is
  // needed: FTS5 ignores a `rowid = ?` next to MATCH when the parameter is bound as a REAL (as
  // better-sqlite3 binds JS numbers) and would return every matching row, of every tenant.
  const highlightOne = db.prepare<[string, number], { marked: string }>(
    "SELECT highlight(search_message_fts, 0, char(2), char(3)) AS marked FROM search_message_fts WHERE search_message_fts MATCH ? AND rowid = CAST(? AS INTEGER)",
  );

  const dropDocs = (docIds: number[]): number => {
    for (const id of docIds) {
      deleteText.run(id);
      deleteRow.run(id);
    }
    if (docIds.length > 0) scrubSoon();
    return docIds.length;
  };

  let closed = false;
  const open = () => {
    if (closed) throw new Error("search index is closed");
  };

  return {
    async index(scope, input, options) {
      const tenantId = tenantOf(scope);
      const docs = checkDocs(input);
      const upgrade = options?.upgrade === true;
      open();
      const now = clock.nowMs();
      return db
        .transaction(() => {
          let indexed = 0;
          let stale = 0;
          for (const d of docs) {
            const prior = current.get(tenantId, d.messageId);
            // (version, schema) order: an upgrade rewrites an equal version stored under an older schema.
            const replaces = !prior || prior.version < d.version || (upgrade && prior.version === d.version && prior.schema_version < SEARCH_INDEX_SCHEMA_VERSION);
            if (!replaces) {
              stale++;
              continue;
            }
            const redacted = d.redacted ? 1 : 0;
            const attachments = d.hasAttachments ? 1 : 0;
            let docId: number;
            if (prior) {
              docId = prior.doc_id;
              updateRow.run(d.conversationId, d.seq, d.version, d.senderId, d.createTimeMs, redacted, attachments, now, docId);
              deleteText.run(docId);
              scrubSoon();
            } else {
              docId = Number(insertRow.run(tenantId, d.messageId, d.conversationId, d.seq, d.version, d.senderId, d.createTimeMs, redacted, attachments, now).lastInsertRowid);
            }
            if (!d.redacted) insertText.run(docId, d.text, aclToken(tenantId, d.conversationId));
            indexed++;
          }
          return { indexed, stale };
        })
        .immediate();
    },

    async remove(scope, messageIds) {
      const tenantId = tenantOf(scope);
      const ids = checkMessageIds(messageIds);
      open();
      if (ids.length === 0) return;
      db.transaction(() => dropDocs(byIds.all(tenantId, JSON.stringify(ids)).map((r) => r.doc_id))).immediate();
    },

    async removeConversation(scope, conversationId) {
      const tenantId = tenantOf(scope);
      checkName("conversationId", conversationId, 128);
      open();
      db.transaction(() => dropDocs(byConversation.all(tenantId, conversationId).map((r) => r.doc_id))).immediate();
    },

    async removeSender(scope, senderId, limit, keep = []) {
      const tenantId = tenantOf(scope);
      checkName("senderId", senderId, 128);
      const n = checkBatchLimit(limit);
      for (const id of keep) checkName("keep", id, 128);
      open();
      // Kept conversations (legal holds) are excluded in the query, so a batch never fills up with them.
      const notKept = `SELECT doc_id FROM search_message WHERE tenant_id = ? AND sender_id = ? AND conversation_id NOT IN (${keep.map(() => "?").join(",")}) LIMIT ?`;
      const rows = () => (keep.length === 0 ? bySender.all(tenantId, senderId, n) : db.prepare<(string | number)[], { doc_id: number }>(notKept).all(tenantId, senderId, ...keep, n));
      return db.transaction(() => dropDocs(rows().map((r) => r.doc_id))).immediate();
    },

    async removeTenant(scope, limit) {
      const tenantId = tenantOf(scope);
      const n = checkBatchLimit(limit);
      open();
      return db.transaction(() => dropDocs(byTenant.all(tenantId, n).map((r) => r.doc_id))).immediate();
    },

    async search(scope, request) {
      const q = checkSearch(scope, request, pageTokens);
      open();
      const text = `text : (${q.words.map(literal).join(" AND ")})`;
      // Few conversations, or many with fewer rows than the words have: their tokens narrow the
      // match inside FTS5. Otherwise an OR of that many doclists costs more than it saves
      // (measured at 200 conversations holding all of 20,000 messages: 561 ms against 95 ms for
      // a word in every message), so the match is the words alone. Either way the join keeps
      // the tenant's listed conversations.
      const acl = matchAcl(q.tenantId, q.conversationIds, text) ? `acl : (${q.conversationIds.map((c) => literal(aclToken(q.tenantId, c))).join(" OR ")}) AND ` : "";
      const rows = findHits[q.order].all({
        match: `${acl}${text}`,
        tenant: q.tenantId,
        conversations: JSON.stringify(q.conversationIds),
        senders: q.senderIds ? JSON.stringify(q.senderIds) : null,
        maxSeqs: JSON.stringify(Object.fromEntries(q.maxSeqs)),
        sentAfter: q.sentAfterMs ?? null,
        sentBefore: q.sentBeforeMs ?? null,
        attachments: q.hasAttachments === undefined ? null : q.hasAttachments ? 1 : 0,
        afterScore: q.after?.[0] ?? null,
        afterTime: q.after?.[1] ?? null,
        afterId: q.after?.[2] ?? null,
        limit: q.pageSize + 1,
      });
      const page = rows.slice(0, q.pageSize);
      const hits: SearchHit[] = page.map((r) => {
        const { text: full, ranges } = parseMarked(highlightOne.get(text, r.doc_id)?.marked ?? "");
        return {
          messageId: r.message_id,
          conversationId: r.conversation_id,
          seq: r.seq,
          senderId: r.sender_id,
          createTimeMs: r.create_time_ms,
          score: r.score,
          snippet: buildSnippet(full, ranges),
        };
      });
      const last = page[page.length - 1];
      const key: SearchKey | undefined = last && [q.order === "relevance" ? last.score : 0, last.create_time_ms, last.message_id];
      return { hits, nextPageToken: rows.length > q.pageSize && key ? q.tokenFor(key) : "" };
    },

    async refresh(scope) {
      tenantOf(scope);
      open();
    },

    async schemaStatus() {
      open();
      const r = countBySchema.get()!;
      return { documents: r.documents, currentDocuments: r.current, oldestVersion: Math.min(r.oldest ?? SEARCH_INDEX_SCHEMA_VERSION, SEARCH_INDEX_SCHEMA_VERSION) };
    },

    async tenantsBelowSchema(limit) {
      if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError("limit must be a positive integer");
      open();
      return staleTenants.all(limit).map((r) => r.tenant_id);
    },

    async close() {
      if (closed) return;
      closed = true;
      if (scrubTimer) clearTimeout(scrubTimer);
      if (owned) db.close();
    },
  };
}
