// Benchmark: the search service's indexing consumer and SearchMessages on both index adapters.
//
// Indexing goes through the real consumer path: synthetic MessageCreated events (a 5,000-word
// vocabulary with Zipf-distributed frequencies, 6-24 words a message) are published to chat's
// event topic on the embedded bus (the SQLite log, a file of its own), and the search consumer
// reads them as the service does (subscribeBatches, batches of up to 1,000 records, committed after
// MessageIndexer.handleBatch resolved: sequencing per conversation, index writes, cache
// invalidations) into the SQLite FTS5 index and, with --es, the Elasticsearch index.
//
// 1. Throughput: all `messages` are published first, then the consumer starts; messages/s from
//    its start until the last one is indexed.
// 2. Lag at a steady rate: `rate` sends/s for `seconds` more (new messages in the same
//    conversations); per message, the time from its publish to the end of the batch that indexed it
//    (p50/p99, ms).
// 3. Search: SearchMessages as the service runs it for a user in 200 conversations (the index
//    search over 200 conversation ids through SearchCache.page): cold (every query distinct for the
//    cache) and cached (the same queries again), p50/p99 in ms.
//
// Usage: npm run build && node tests/bench/search.bench.mjs [messages=100000] [conversations=10000]
//          [queries=500] [--rate=1000] [--seconds=20] [--es] [--es-only] [--keep]
// --es needs CAAS_ELASTICSEARCH_URL (source ~/.cache/caas-infra/env); its index is deleted after.
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { EventSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { MessageSchema } from "@caas/gen/caas/chat/v1/message_pb.js";
import { ChatEventEnvelopeSchema } from "@caas/gen/caas/events/v1/chat_events_pb.js";
import { systemClock } from "@caas/shared/clock";
import { createLogger } from "@caas/shared/logger";
import { PageTokenCodec } from "@caas/shared/page-token";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import { createSqliteEventBus } from "@caas/shared/eventing/sqlite";
import { CHAT_EVENTS } from "@caas/shared/eventing/topics";
import { createMemoryPositionStore } from "@caas/shared/eventing/sequenced-consumer";
import { createMemoryCache } from "../../services/search/dist/adapters/cache-memory.js";
import { createElasticsearchSearchIndex, elasticsearchSearchIndexNames } from "../../services/search/dist/adapters/search-index-elasticsearch.js";
import { createSqliteSearchIndex } from "../../services/search/dist/adapters/search-index-sqlite.js";
import { MessageIndexer } from "../../services/search/dist/message-indexer.js";
import { SearchCache } from "../../services/search/dist/search-cache.js";
import { quantiles, sleep } from "./embedded-platform.mjs";

const flag = (name, dflt) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : dflt;
};
const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const withEs = process.argv.includes("--es") || process.argv.includes("--es-only");
const sqliteToo = !process.argv.includes("--es-only");
const MESSAGES = Number(args[0] ?? 100_000);
const CONVERSATIONS = Number(args[1] ?? 10_000);
const QUERIES = Number(args[2] ?? 500);
const RATE = flag("rate", 1000);
const SECONDS = flag("seconds", 20);
const USER_CONVERSATIONS = Math.min(200, CONVERSATIONS);
const T0 = Date.UTC(2026, 0, 1);
const TENANT = "0190f0c0-0000-7000-8000-000000000001";

// A deterministic generator (mulberry32), so both adapters index the same text. Integer
// arithmetic only: an LCG in doubles (seed * 1103515245) loses its low bits past 2^53 and falls
// into a short cycle, which made earlier corpora repeat about 700 distinct messages.
let seed = 42;
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
};
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

/** Message n as chat publishes it (one record, keyed by conversation). */
function record(n, seqs, sentMs) {
  const c = n % CONVERSATIONS;
  const seq = BigInt(++seqs[c]);
  const createTime = timestampFromMs(T0 + n);
  const message = create(MessageSchema, { id: `m${n}`, conversationId: conversationId(c), seq, senderId: `u${n % 997}`, text: text(), createTime });
  if (n % 10 === 0) message.attachments.push({ $typeName: "caas.chat.v1.Attachment", mediaId: `f${n}`, mimeType: "image/png", name: "a.png", sizeBytes: 1n });
  const event = create(EventSchema, { conversationId: conversationId(c), seq, eventId: `e${n}`, actorId: message.senderId, createTime, payload: { case: "messageCreated", value: { message } } });
  const value = create(ChatEventEnvelopeSchema, { tenantId: TENANT, conversationId: conversationId(c), payload: { case: "event", value: event } });
  return { key: conversationId(c), value, headers: { "x-sent-ms": String(sentMs) } };
}

/** The 1-minute load average, recorded beside every wall-time figure (the machine is shared). */
const load = () => Number(loadavg()[0].toFixed(1));
const cpuNow = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};

async function run(name, backend, dir, serverCpu = async () => 0, serverSearch = async () => undefined) {
  // Time spent inside the adapter's index writes, to tell the adapter from the rest of the path.
  let writeMs = 0;
  const index = {
    ...backend,
    index: async (...a) => {
      const s = performance.now();
      try {
        return await backend.index(...a);
      } finally {
        writeMs += performance.now() - s;
      }
    },
  };
  const logger = createLogger({ service: "search-bench", instance: "bench", level: "silent" });
  const bus = await createSqliteEventBus({ path: join(dir, `bus-${name}.db`), clock: systemClock, logger, batchSize: 1000 });
  const readable = Array.from({ length: USER_CONVERSATIONS }, (_, i) => ({ conversationId: conversationId(i), title: "", maxSeq: 0 }));
  const cache = new SearchCache(createMemoryCache({ clock: systemClock, maxValueBytes: 2 * 1024 * 1024 }), { listReadable: async () => readable, check: async () => [] });
  const indexer = new MessageIndexer({ index, cache, positions: createMemoryPositionStore(), logger, fetchAfter: async () => [] });

  seed = 42;
  const seqs = new Array(CONVERSATIONS).fill(0);
  const loadAtStart = load();
  const p0 = performance.now();
  const publishCpu0 = cpuNow();
  for (let n = 0; n < MESSAGES; n += 1000) {
    const chunk = [];
    for (let i = n; i < Math.min(MESSAGES, n + 1000); i++) chunk.push(record(i, seqs, 0));
    await bus.publish(CHAT_EVENTS, chunk);
  }
  const publishSeconds = (performance.now() - p0) / 1000;
  const publishCpuSeconds = cpuNow() - publishCpu0;
  const loadAfterPublish = load();

  let applied = 0;
  let lagging = false;
  const lags = [];
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const server0 = await serverCpu();
  const sub = await bus.subscribeBatches(CHAT_EVENTS, { group: "search.messages", from: "earliest", maxRecords: 1000 }, async (batch) => {
    await indexer.handleBatch(batch.records.map((r) => r.value));
    applied += batch.records.length;
    if (lagging) {
      const now = Date.now();
      for (const r of batch.records) if (r.headers["x-sent-ms"] !== "0") lags.push(now - Number(r.headers["x-sent-ms"]));
    }
  });
  while (applied < MESSAGES) await sleep(5);
  const indexSeconds = (performance.now() - t0) / 1000;
  const writeSeconds = writeMs / 1000;
  // CPU time of this process while indexing: on a shared machine, wall time includes waiting for a core.
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  // The index server's CPU in that time (Elasticsearch; 0 for SQLite, which runs in this process).
  const serverCpuSeconds = (await serverCpu()) - server0;
  const loadAfterIndexing = load();

  // Steady load: RATE sends/s in 10 ms ticks, each its own publish (as chat's relay does).
  lagging = true;
  const steady = RATE * SECONDS;
  const s0 = Date.now();
  for (let sent = 0; sent < steady;) {
    const due = Math.min(steady, Math.floor(((Date.now() - s0) / 1000) * RATE));
    if (due > sent) {
      const chunk = [];
      for (; sent < due; sent++) chunk.push(record(MESSAGES + sent, seqs, Date.now()));
      await bus.publish(CHAT_EVENTS, chunk);
    }
    await sleep(10);
  }
  const deadline = Date.now() + 120_000;
  while (applied < MESSAGES + steady && Date.now() < deadline) await sleep(5);
  const loadAfterSteady = load();
  const [lag] = await sub.lag();
  await sub.close();
  await bus.close();
  const scope = scopeForAdmin(TENANT);
  await index.refresh(scope);

  seed = 7;
  const queries = Array.from({ length: QUERIES }, (_, i) => (i % 2 ? `${word()} ${word()}` : word()));
  const ids = readable.map((c) => c.conversationId);
  const timed = async () => {
    const ms = [];
    // This process's CPU per query: the whole cost on SQLite, the client's part on Elasticsearch.
    const cpuMs = [];
    let hits = 0;
    for (const query of queries) {
      const request = { query, conversationIds: ids, maxSeqs: {}, pageSize: 20, pageToken: "", order: "relevance" };
      const c = cpuNow();
      const s = performance.now();
      const page = await cache.page(scope, "bench-user", request, ids, () => index.search(scope, request));
      ms.push(performance.now() - s);
      cpuMs.push((cpuNow() - c) * 1000);
      hits += page.hits.length;
    }
    return { ...quantiles(ms), processCpuMs: quantiles(cpuMs), hitsPerQuery: Number((hits / queries.length).toFixed(1)), load: load() };
  };
  const node0 = { cpu: await serverCpu(), search: await serverSearch() };
  const cold = await timed();
  // Elasticsearch's side of the cold searches: the index's query and fetch time per search, and
  // the node's CPU per search (an upper bound: other runs share the node).
  const node1 = { cpu: await serverCpu(), search: await serverSearch() };
  if (node0.search && node1.search) {
    cold.node = {
      msPerSearch: Number(((node1.search.ms - node0.search.ms) / (node1.search.queries - node0.search.queries)).toFixed(2)),
      cpuMsPerSearch: Number((((node1.cpu - node0.cpu) * 1000) / QUERIES).toFixed(2)),
    };
  }
  const cached = await timed();
  console.log(
    JSON.stringify({
      adapter: name,
      messages: MESSAGES,
      conversations: CONVERSATIONS,
      date: new Date().toISOString(),
      load: { start: loadAtStart, afterPublish: loadAfterPublish, afterIndexing: loadAfterIndexing, afterSteady: loadAfterSteady },
      publishSeconds: Number(publishSeconds.toFixed(1)),
      publishCpuSeconds: Number(publishCpuSeconds.toFixed(1)),
      indexSeconds: Number(indexSeconds.toFixed(1)),
      messagesPerSec: Math.round(MESSAGES / indexSeconds),
      adapterWriteSeconds: Number(writeSeconds.toFixed(1)),
      indexCpuSeconds: Number(cpuSeconds.toFixed(1)),
      messagesPerCpuSec: Math.round(MESSAGES / cpuSeconds),
      ...(serverCpuSeconds > 0 ? { serverCpuSeconds: Number(serverCpuSeconds.toFixed(1)), messagesPerCpuSecWithServer: Math.round(MESSAGES / (cpuSeconds + serverCpuSeconds)) } : {}),
      steady: { rate: RATE, seconds: SECONDS, indexed: applied - MESSAGES, of: steady, lagMs: quantiles(lags), partitionLagAfter: lag },
      searchColdMs: cold,
      searchCachedMs: cached,
      userConversations: USER_CONVERSATIONS,
    }),
  );
  if (applied < MESSAGES + steady) throw new Error(`the consumer fell behind: ${applied - MESSAGES} of ${steady} steady messages indexed within 120 s`);
}

const pageTokens = new PageTokenCodec(Buffer.from("search-bench-page-token-secret"));
const dir = mkdtempSync(join(tmpdir(), "caas-search-bench-"));
try {
  if (sqliteToo) {
    const sqlite = await createSqliteSearchIndex({ path: join(dir, "search.db"), clock: systemClock, pageTokens });
    await run("sqlite-fts5", sqlite, dir);
    await sqlite.close();
  }
  if (withEs) {
    const node = process.env.CAAS_ELASTICSEARCH_URL;
    if (!node) throw new Error("--es needs CAAS_ELASTICSEARCH_URL");
    const indexPrefix = `caas-bench-${Date.now().toString(36)}-`;
    const es = await createElasticsearchSearchIndex({ node, indexPrefix, pageTokens, replicas: 0 });
    try {
      // The node's process CPU (all of it: on the shared test server other runs add to it).
      const serverCpu = async () => {
        const stats = await (await fetch(`${node}/_nodes/_local/stats/process`)).json();
        return Object.values(stats.nodes)[0].process.cpu.total_in_millis / 1000;
      };
      const serverSearch = async () => {
        const stats = await (await fetch(`${node}/${elasticsearchSearchIndexNames(indexPrefix).index}/_stats/search`)).json();
        const s = stats._all.primaries.search;
        return { queries: s.query_total, ms: s.query_time_in_millis + s.fetch_time_in_millis };
      };
      await run("elasticsearch", es, dir, serverCpu, serverSearch);
    } finally {
      await es.close();
      const names = elasticsearchSearchIndexNames(indexPrefix);
      await fetch(`${node}/${names.index}`, { method: "DELETE" });
      await fetch(`${node}/_index_template/${names.template}`, { method: "DELETE" });
    }
  }
} finally {
  // --keep leaves the bus and the SQLite index for a look at query plans afterwards.
  if (process.argv.includes("--keep")) console.error(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
