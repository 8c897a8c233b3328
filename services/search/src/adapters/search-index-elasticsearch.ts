import { Client, errors } from "@elastic/elasticsearch";
import { UnavailableError } from "@caas/shared/errors";
import type { PageTokenCodec } from "@caas/shared/page-token";
import { SEARCH_INDEX_SCHEMA_VERSION, type SearchDocument, type SearchHit, type SearchIndex } from "../ports/search-index.js";
import { checkName, tenantOf } from "./checks.js";
import { MARK_CLOSE, MARK_OPEN, buildSnippet, checkBatchLimit, checkDocs, checkMessageIds, checkSearch, foldDiacritics, parseMarked, type SearchKey } from "./search-index-support.js";

export interface ElasticsearchSearchIndexOptions {
  /** e.g. http://127.0.0.1:9200 (security is the deployment's concern: put credentials in the URL or a proxy). */
  node: string;
  /** Starts the index and template names (lowercase), e.g. `caas-` or a per-run prefix in tests. */
  indexPrefix: string;
  pageTokens: PageTokenCodec;
  /**
   * Passed to every bulk write: `false` (default) leaves visibility to the index's refresh
   * interval and `refresh`; `"wait_for"` resolves writes once they are searchable.
   */
  refresh?: boolean | "wait_for";
  /** Primary shards of a newly created index (default 1). Routing keeps each tenant on one. */
  shards?: number;
  /** Replicas of a newly created index (default 1; 0 on a single-node test server). */
  replicas?: number;
}

/** The names the adapter creates under a prefix (tests and operators use them to clean up). */
export function elasticsearchSearchIndexNames(indexPrefix: string): { index: string; template: string } {
  return { index: `${indexPrefix}messages-v1`, template: `${indexPrefix}messages` };
}

/** Explicit mappings; `dynamic: strict` refuses any field not listed. */
const MAPPINGS = {
  dynamic: "strict",
  _routing: { required: true },
  properties: {
    tenant_id: { type: "keyword" },
    message_id: { type: "keyword" },
    conversation_id: { type: "keyword" },
    sender_id: { type: "keyword" },
    seq: { type: "long" },
    create_time: { type: "date", format: "epoch_millis" },
    redacted: { type: "boolean" },
    has_attachments: { type: "boolean" },
    // The index schema version the document was written under (absent: version 1).
    schema_version: { type: "integer" },
    // The standard analyzer lowercases without the analysis-common module (absent from some
    // distributions); diacritics are folded by the adapter into text_folded instead.
    text: { type: "text", analyzer: "standard" },
    text_folded: { type: "text", analyzer: "standard" },
  },
} as const;

interface Source {
  message_id: string;
  conversation_id: string;
  seq: number;
  sender_id: string;
  create_time: number;
  text: string;
}

const BATCH = 1000;

/**
 * The cluster-mode `SearchIndex` on Elasticsearch 8/9 (the official client, imported here only).
 *
 * Isolation: ONE shared index for all tenants (`<prefix>messages-v1`), not an index per tenant.
 * CAAS expects many small tenants, and every index costs shards, heap and cluster-state entries,
 * so thousands of per-tenant indices would exhaust a cluster long before the data does. Each
 * document's id is `<tenant>:<messageId>`, its routing key is the tenant id (a tenant's data
 * lives on one shard; a search touches only that shard; `_routing` is required by the mapping),
 * and every query this adapter sends has a `tenant_id` term filter added here, never by callers.
 * Trade-off: relevance statistics are per shard, shared by the tenants on it.
 *
 * At start it puts a composable index template with explicit mappings (idempotent) and creates
 * the index if missing; a mapping change ships as a new index version. Writes are bulk requests
 * with external versioning (version = the document's `version`), so the server itself rejects a
 * stale state; those version conflicts are counted as `stale`, not errors. Diacritics: the
 * standard analyzer cannot fold them without analysis-common, so the adapter indexes a folded
 * copy of the text (`text_folded`, offsets equal to `text`) and matches the folded query against
 * it, with exact matches on `text` adding to the score. Deletes are by id; `removeConversation`
 * searches the ids and bulk-deletes them (no _delete_by_query without the reindex module). Pages
 * use `search_after` on (score, create_time, message_id) inside the signed page token.
 */
export async function createElasticsearchSearchIndex(opts: ElasticsearchSearchIndexOptions): Promise<SearchIndex> {
  if (!/^[a-z0-9][a-z0-9_.-]{0,100}$/.test(opts.indexPrefix)) {
    throw new RangeError(`indexPrefix must be lowercase letters, digits, "_", "." or "-", got ${JSON.stringify(opts.indexPrefix)}`);
  }
  const { index, template } = elasticsearchSearchIndexNames(opts.indexPrefix);
  const { pageTokens } = opts;
  const refresh = opts.refresh ?? false;
  const client = new Client({ node: opts.node });
  try {
    await call(() =>
      client.indices.putIndexTemplate({
        name: template,
        index_patterns: [`${opts.indexPrefix}messages-*`],
        priority: 100,
        template: {
          settings: { number_of_shards: opts.shards ?? 1, number_of_replicas: opts.replicas ?? 1 },
          mappings: MAPPINGS,
        },
        _meta: { owner: "caas search-index adapter" },
      }),
    );
    await call(async () => {
      try {
        await client.indices.create({ index });
      } catch (err) {
        if (!(err instanceof errors.ResponseError && (err.body as { error?: { type?: string } } | undefined)?.error?.type === "resource_already_exists_exception")) throw err;
      }
    });
    // Fields added since the index was created (adding fields to a mapping is allowed in place).
    await call(() => client.indices.putMapping({ index, properties: { has_attachments: MAPPINGS.properties.has_attachments, schema_version: MAPPINGS.properties.schema_version } }));
  } catch (err) {
    await client.close();
    throw err;
  }

  const docId = (tenantId: string, messageId: string) => `${tenantId}:${messageId}`;

  /** Bulk-deletes ids of one tenant; a missing document is fine (idempotent). */
  async function deleteIds(tenantId: string, messageIds: readonly string[]): Promise<void> {
    if (messageIds.length === 0) return;
    const res = await call(() =>
      client.bulk({
        refresh,
        operations: messageIds.map((id) => ({ delete: { _index: index, _id: docId(tenantId, id), routing: tenantId } })),
      }),
    );
    for (const item of res.items) {
      const r = item.delete;
      if (r && r.status >= 300 && r.status !== 404) throw new Error(`search index delete failed: ${r.error?.type}: ${r.error?.reason}`);
    }
  }

  let closed = false;
  const open = () => {
    if (closed) throw new Error("search index is closed");
  };

  return {
    async index(scope, input, options) {
      const tenantId = tenantOf(scope);
      const docs = checkDocs(input);
      open();
      if (docs.length === 0) return { indexed: 0, stale: 0 };
      // An upgrade may rewrite an equal version (external_gte); the rebuild replays the log in
      // order, so an equal version carries the same state, now under this schema.
      const versionType = options?.upgrade === true ? ("external_gte" as const) : ("external" as const);
      const res = await call(() =>
        client.bulk({
          refresh,
          operations: docs.flatMap((d) => [{ index: { _index: index, _id: docId(tenantId, d.messageId), routing: tenantId, version: d.version, version_type: versionType } }, toSource(tenantId, d)]),
        }),
      );
      let indexed = 0;
      let stale = 0;
      for (const item of res.items) {
        const r = item.index!;
        if (r.status < 300) indexed++;
        else if (r.status === 409 && r.error?.type === "version_conflict_engine_exception") stale++;
        else throw new Error(`search index write failed: ${r.error?.type}: ${r.error?.reason}`);
      }
      return { indexed, stale };
    },

    async remove(scope, messageIds) {
      const tenantId = tenantOf(scope);
      const ids = checkMessageIds(messageIds);
      open();
      await deleteIds(tenantId, ids);
    },

    async removeConversation(scope, conversationId) {
      const tenantId = tenantOf(scope);
      checkName("conversationId", conversationId, 128);
      open();
      // A search only sees refreshed documents: make the latest writes visible first.
      await call(() => client.indices.refresh({ index }));
      let after: string[] | undefined;
      for (;;) {
        const res = await call(() =>
          client.search<never>({
            index,
            routing: tenantId,
            size: BATCH,
            _source: false,
            track_total_hits: false,
            query: { bool: { filter: [{ term: { tenant_id: tenantId } }, { term: { conversation_id: conversationId } }] } },
            sort: [{ message_id: "asc" }],
            ...(after ? { search_after: after } : {}),
          }),
        );
        const hits = res.hits.hits;
        await deleteIds(
          tenantId,
          hits.map((h) => h._id!.slice(tenantId.length + 1)),
        );
        if (hits.length < BATCH) return;
        after = hits[hits.length - 1]!.sort as string[];
      }
    },

    async removeSender(scope, senderId, limit, keep = []) {
      const tenantId = tenantOf(scope);
      checkName("senderId", senderId, 128);
      const n = checkBatchLimit(limit);
      for (const id of keep) checkName("keep", id, 128);
      open();
      // Deleted documents leave a search only once refreshed: each call sees the previous one's deletes.
      await call(() => client.indices.refresh({ index }));
      const res = await call(() =>
        client.search<never>({
          index,
          routing: tenantId,
          size: n,
          _source: false,
          track_total_hits: false,
          query: {
            bool: {
              filter: [{ term: { tenant_id: tenantId } }, { term: { sender_id: senderId } }],
              ...(keep.length > 0 ? { must_not: [{ terms: { conversation_id: [...keep] } }] } : {}),
            },
          },
        }),
      );
      const ids = res.hits.hits.map((h) => h._id!.slice(tenantId.length + 1));
      await deleteIds(tenantId, ids);
      return ids.length;
    },

    async removeTenant(scope, limit) {
      const tenantId = tenantOf(scope);
      const n = checkBatchLimit(limit);
      open();
      await call(() => client.indices.refresh({ index }));
      const res = await call(() =>
        client.search<never>({ index, routing: tenantId, size: n, _source: false, track_total_hits: false, query: { bool: { filter: [{ term: { tenant_id: tenantId } }] } } }),
      );
      const ids = res.hits.hits.map((h) => h._id!.slice(tenantId.length + 1));
      await deleteIds(tenantId, ids);
      return ids.length;
    },

    async search(scope, request) {
      const q = checkSearch(scope, request, pageTokens);
      open();
      const text = q.words.join(" ");
      const filter: object[] = [{ term: { tenant_id: q.tenantId } }, { term: { redacted: false } }];
      // The conversations without a bound, or with a bound and a seq at or below it.
      const bounded = new Set(q.maxSeqs.map(([id]) => id));
      const free = q.conversationIds.filter((id) => !bounded.has(id));
      filter.push({
        bool: {
          minimum_should_match: 1,
          should: [
            ...(free.length > 0 ? [{ terms: { conversation_id: free } }] : []),
            ...q.maxSeqs.map(([id, max]) => ({ bool: { filter: [{ term: { conversation_id: id } }, { range: { seq: { lte: max } } }] } })),
          ],
        },
      });
      if (q.senderIds !== undefined) filter.push({ terms: { sender_id: q.senderIds } });
      if (q.sentAfterMs !== undefined || q.sentBeforeMs !== undefined) {
        filter.push({ range: { create_time: { gte: q.sentAfterMs, lt: q.sentBeforeMs } } });
      }
      // Documents of schema 1 have no flag: they count as without attachments.
      if (q.hasAttachments === true) filter.push({ term: { has_attachments: true } });
      if (q.hasAttachments === false) filter.push({ bool: { must_not: [{ term: { has_attachments: true } }] } });
      const relevance = q.order === "relevance";
      const byTime: Record<string, { order: "desc" }>[] = [{ create_time: { order: "desc" } }, { message_id: { order: "desc" } }];
      const res = await call(() =>
        client.search<Source>({
          index,
          routing: q.tenantId,
          size: q.pageSize + 1,
          track_total_hits: false,
          _source: ["message_id", "conversation_id", "seq", "sender_id", "create_time", "text"],
          query: {
            bool: {
              filter,
              must: [{ match: { text_folded: { query: foldDiacritics(text), operator: "and" } } }],
              should: [{ match: { text: { query: text } } }],
            },
          },
          sort: relevance ? [{ _score: { order: "desc" } }, ...byTime] : byTime,
          track_scores: true,
          ...(q.after ? { search_after: relevance ? q.after : q.after.slice(1) } : {}),
          highlight: {
            fields: { text_folded: { number_of_fragments: 0, pre_tags: [MARK_OPEN], post_tags: [MARK_CLOSE] } },
          },
        }),
      );
      const page = res.hits.hits.slice(0, q.pageSize);
      const hits: SearchHit[] = page.map((h) => {
        const s = h._source!;
        const marked = parseMarked(h.highlight?.text_folded?.[0] ?? "");
        // The folded text has the original's offsets; anything else would misplace highlights.
        const ranges = marked.text.length === s.text.length ? marked.ranges : [];
        return {
          messageId: s.message_id,
          conversationId: s.conversation_id,
          seq: s.seq,
          senderId: s.sender_id,
          createTimeMs: s.create_time,
          score: relevance ? (h.sort![0] as number) : (h._score ?? 0),
          snippet: buildSnippet(s.text, ranges),
        };
      });
      const last = page[page.length - 1];
      const more = res.hits.hits.length > q.pageSize && last !== undefined;
      const key = (relevance ? last?.sort : [0, ...(last?.sort ?? [])]) as SearchKey;
      return { hits, nextPageToken: more ? q.tokenFor(key) : "" };
    },

    async refresh(scope) {
      tenantOf(scope);
      open();
      await call(() => client.indices.refresh({ index }));
    },

    async schemaStatus() {
      open();
      await call(() => client.indices.refresh({ index }));
      const res = await call(() =>
        client.search({
          index,
          size: 0,
          track_total_hits: true,
          aggs: { current: { filter: { term: { schema_version: SEARCH_INDEX_SCHEMA_VERSION } } }, oldest: { min: { field: "schema_version", missing: 1 } } },
        }),
      );
      const total = res.hits.total;
      const documents = typeof total === "number" ? total : (total?.value ?? 0);
      const aggs = res.aggregations as { current: { doc_count: number }; oldest: { value: number | null } } | undefined;
      const oldest = documents === 0 ? SEARCH_INDEX_SCHEMA_VERSION : (aggs?.oldest.value ?? SEARCH_INDEX_SCHEMA_VERSION);
      return { documents, currentDocuments: aggs?.current.doc_count ?? 0, oldestVersion: Math.min(oldest, SEARCH_INDEX_SCHEMA_VERSION) };
    },

    async tenantsBelowSchema(limit) {
      if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError("limit must be a positive integer");
      open();
      await call(() => client.indices.refresh({ index }));
      const res = await call(() =>
        client.search({
          index,
          size: 0,
          query: { bool: { must_not: [{ range: { schema_version: { gte: SEARCH_INDEX_SCHEMA_VERSION } } }] } },
          aggs: { tenants: { terms: { field: "tenant_id", size: limit, order: { _key: "asc" } } } },
        }),
      );
      const aggs = res.aggregations as { tenants: { buckets: { key: string }[] } } | undefined;
      return (aggs?.tenants.buckets ?? []).map((b) => b.key);
    },

    async close() {
      if (closed) return;
      closed = true;
      await client.close();
    },
  };
}

function toSource(tenantId: string, d: SearchDocument) {
  return {
    tenant_id: tenantId,
    message_id: d.messageId,
    conversation_id: d.conversationId,
    sender_id: d.senderId,
    seq: d.seq,
    create_time: d.createTimeMs,
    redacted: d.redacted === true,
    has_attachments: d.hasAttachments === true,
    schema_version: SEARCH_INDEX_SCHEMA_VERSION,
    text: d.text,
    text_folded: foldDiacritics(d.text),
  };
}

/** Runs a client call, turning an unreachable or overloaded server into UnavailableError. */
async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const status = err instanceof errors.ResponseError ? err.meta.statusCode : undefined;
    const transient =
      err instanceof errors.ConnectionError || err instanceof errors.TimeoutError || err instanceof errors.NoLivingConnectionsError || (status !== undefined && (status === 429 || status >= 500));
    if (transient) throw new UnavailableError(`search index unavailable: ${(err as Error).message}`, { cause: err });
    throw err;
  }
}
