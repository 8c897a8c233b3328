// Benchmark: the search service's indexing consumer and SearchMessages on both index adapters.
//
// Indexing: synthetic chat events (MessageCreated, with a Zipf-distributed vocabulary of 5,000
// words, 6-24 words a message) go through MessageIndexer.handle, the consumer code the bus
// subscription calls (sequenced per conversation, one index write and one cache invalidation per
// message), into the SQLite FTS5 index (embedded) and, with --es, the Elasticsearch index. The bus
// transport itself (SQLite log / Kafka) is not part of the figure. Reported: messages/s.
//
// Search: SearchMessages as the service runs it for a user in 200 conversations (the index search
// over 200 conversation ids, then the same request through SearchCache.page): cold (every query
// distinct) and cached (the same queries again), p50/p99 in ms, over `queries` one-word and
// two-word queries drawn from the same distribution.
//
// Usage: npm run build && node tests/bench/search.bench.mjs [messages=100000] [conversations=1000] [queries=500] [--es]
// --es needs CAAS_ELASTICSEARCH_URL (source ~/.cache/caas-infra/env); its index is deleted after.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { EventSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { MessageSchema } from "@caas/gen/caas/chat/v1/message_pb.js";
import { ChatEventEnvelopeSchema } from "@caas/gen/caas/events/v1/chat_events_pb.js";
import { createLogger, createMemoryPositionStore, PageTokenCodec, scopeForAdmin, systemClock } from "../../services/shared/dist/index.js";
import { createMemoryCache } from "../../services/search/dist/adapters/cache-memory.js";
import { createElasticsearchSearchIndex, elasticsearchSearchIndexNames } from "../../services/search/dist/adapters/search-index-elasticsearch.js";
import { createSqliteSearchIndex } from "../../services/search/dist/adapters/search-index-sqlite.js";
import { MessageIndexer } from "../../services/search/dist/message-indexer.js";
import { SearchCache } from "../../services/search/dist/search-cache.js";
import { quantiles } from "./embedded-platform.mjs";

const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const withEs = process.argv.includes("--es");
const MESSAGES = Number(args[0] ?? 100_000);
const CONVERSATIONS = Number(args[1] ?? 1_000);
const QUERIES = Number(args[2] ?? 500);
const USER_CONVERSATIONS = Math.min(200, CONVERSATIONS);
const T0 = Date.UTC(2026, 0, 1);
const TENANT = "0190f0c0-0000-7000-8000-000000000001";

// A deterministic generator, so both adapters index the same text.
let seed = 42;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const VOCAB = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}${"aeiou"[i % 5]}${"lmnrst"[i % 6]}`);
// Zipf (s = 1): word i with weight 1/(i+1), sampled through the cumulative weights.
const cumulative = [];
VOCAB.reduce((sum, _, i) => (cumulative.push(sum + 1 / (i + 1)), sum + 1 / (i + 1)), 0);
const total = cumulative[cumulative.length - 1];
const word = () => {
  const x = rand() * total;
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return VOCAB[lo];
};
const text = () => Array.from({ length: 6 + Math.floor(rand() * 19) }, word).join(" ");
const conversationId = (i) => `0190f0c0-0000-7000-8000-${i.toString(16).padStart(12, "0")}`;

function envelopes() {
  seed = 42;
  const seqs = new Array(CONVERSATIONS).fill(0);
  const out = [];
  for (let n = 0; n < MESSAGES; n++) {
    const c = n % CONVERSATIONS;
    const seq = BigInt(++seqs[c]);
    const createTime = timestampFromMs(T0 + n);
    const message = create(MessageSchema, { id: `m${n}`, conversationId: conversationId(c), seq, senderId: `u${n % 997}`, text: text(), createTime });
    const event = create(EventSchema, { conversationId: conversationId(c), seq, eventId: `e${n}`, actorId: message.senderId, createTime, payload: { case: "messageCreated", value: { message } } });
    out.push(create(ChatEventEnvelopeSchema, { tenantId: TENANT, conversationId: conversationId(c), payload: { case: "event", value: event } }));
  }
  return out;
}

async function run(name, index) {
  const logger = createLogger({ service: "search-bench", instance: "bench", level: "silent" });
  const readable = Array.from({ length: USER_CONVERSATIONS }, (_, i) => ({ conversationId: conversationId(i), title: "", maxSeq: 0 }));
  const cache = new SearchCache(createMemoryCache({ clock: systemClock, maxValueBytes: 2 * 1024 * 1024 }), { listReadable: async () => readable, check: async () => [] });
  const indexer = new MessageIndexer({ index, cache, positions: createMemoryPositionStore(), logger, fetchAfter: async () => [] });
  const all = envelopes();
  const t0 = performance.now();
  for (const e of all) await indexer.handle(e);
  const indexSeconds = (performance.now() - t0) / 1000;
  const scope = scopeForAdmin(TENANT);
  await index.refresh(scope);

  seed = 7;
  const queries = Array.from({ length: QUERIES }, (_, i) => (i % 2 ? `${word()} ${word()}` : word()));
  const ids = readable.map((c) => c.conversationId);
  const timed = async (label) => {
    const ms = [];
    let hits = 0;
    for (const [i, query] of queries.entries()) {
      // Distinct page sizes make every cold query distinct for the result cache.
      const request = { query, conversationIds: ids, maxSeqs: {}, pageSize: 20, pageToken: "" };
      const s = performance.now();
      const page = await cache.page(scope, "bench-user", { ...request, n: label === "cold" ? i : i }, ids, () => index.search(scope, request));
      ms.push(performance.now() - s);
      hits += page.hits.length;
    }
    return { ...quantiles(ms), hitsPerQuery: Number((hits / queries.length).toFixed(1)) };
  };
  const cold = await timed("cold");
  const cached = await timed("cached");
  console.log(
    JSON.stringify({
      adapter: name,
      messages: MESSAGES,
      conversations: CONVERSATIONS,
      indexSeconds: Number(indexSeconds.toFixed(1)),
      messagesPerSec: Math.round(MESSAGES / indexSeconds),
      searchColdMs: cold,
      searchCachedMs: cached,
      userConversations: USER_CONVERSATIONS,
    }),
  );
}

const pageTokens = new PageTokenCodec(Buffer.from("search-bench-page-token-secret"));
const dir = mkdtempSync(join(tmpdir(), "caas-search-bench-"));
try {
  const sqlite = await createSqliteSearchIndex({ path: join(dir, "search.db"), clock: systemClock, pageTokens });
  await run("sqlite-fts5", sqlite);
  await sqlite.close();
  if (withEs) {
    const node = process.env.CAAS_ELASTICSEARCH_URL;
    if (!node) throw new Error("--es needs CAAS_ELASTICSEARCH_URL");
    const indexPrefix = `caas-bench-${Date.now().toString(36)}-`;
    const es = await createElasticsearchSearchIndex({ node, indexPrefix, pageTokens, replicas: 0 });
    try {
      await run("elasticsearch", es);
    } finally {
      await es.close();
      const names = elasticsearchSearchIndexNames(indexPrefix);
      await fetch(`${node}/${names.index}`, { method: "DELETE" });
      await fetch(`${node}/_index_template/${names.template}`, { method: "DELETE" });
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
