import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import Database from "better-sqlite3";
import { EventSchema, type Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import { ConversationSchema } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { MessageSchema } from "@caas/gen/caas/chat/v1/message_pb.js";
import { ScanConversationsResponseSchema } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { createLogger } from "@caas/shared/logger";
import { createMemoryPositionStore } from "@caas/shared/eventing/sequenced-consumer";
import { FakeClock } from "@caas/shared/clock";
import { runMigrations, sqliteMigrationTarget } from "@caas/shared/migrations";
import { PageTokenCodec } from "@caas/shared/page-token";
import { freshTenantScope } from "@caas/shared/testing";
import { describe, expect, it } from "vitest";
import { createMemoryCache } from "../src/adapters/cache-memory.js";
import { SEARCH_INDEX_MIGRATION_TABLE, SEARCH_INDEX_SQLITE_MIGRATIONS, createSqliteSearchIndex } from "../src/adapters/search-index-sqlite.js";
import type { ChatInternalCalls } from "../src/chat-access.js";
import { MessageIndexer } from "../src/message-indexer.js";
import { SEARCH_INDEX_SCHEMA_VERSION } from "../src/ports/search-index.js";
import { SchemaRebuild } from "../src/schema-rebuild.js";
import { SearchCache } from "../src/search-cache.js";

const T0 = Date.UTC(2026, 0, 1);
const logger = createLogger({ service: "search-test", instance: "test", level: "silent" });

/** A message with one attachment, as chat's log holds it. */
function created(conversationId: string, seq: number, id: string, text: string): Event {
  const createTime = timestampFromMs(T0 + seq);
  const message = create(MessageSchema, { id, conversationId, seq: BigInt(seq), senderId: "ann", text, createTime });
  message.attachments.push({ $typeName: "caas.chat.v1.Attachment", mediaId: "f1", mimeType: "image/png", name: "a.png", sizeBytes: 1n });
  return create(EventSchema, { conversationId, seq: BigInt(seq), eventId: `e${seq}`, actorId: "ann", createTime, payload: { case: "messageCreated", value: { message } } });
}

describe("SchemaRebuild", () => {
  it("rebuilds every tenant holding older documents from chat's log, reports progress, and ends", async () => {
    const db = new Database(":memory:");
    await runMigrations(sqliteMigrationTarget(db, SEARCH_INDEX_MIGRATION_TABLE), SEARCH_INDEX_SQLITE_MIGRATIONS.slice(0, 1));
    // Two tenants with documents of the first schema; chat still has the first one's conversation only.
    const [kept, gone] = [freshTenantScope(), freshTenantScope()];
    const insert = db.prepare(
      "INSERT INTO search_message (tenant_id, message_id, conversation_id, seq, version, sender_id, create_time_ms, redacted, indexed_time_ms) VALUES (?, 'm1', 'c1', 1, 1, 'ann', ?, 0, 0)",
    );
    for (const t of [kept, gone]) db.prepare("INSERT INTO search_message_fts (rowid, text, acl) VALUES (?, 'holiday photos', '')").run(insert.run(t.tenantId, T0 + 1).lastInsertRowid);
    const index = await createSqliteSearchIndex({ db, clock: new FakeClock(), pageTokens: new PageTokenCodec(Buffer.from("rebuild-test-secret-0123")) });
    const logs: Record<string, Event[]> = { [`${kept.tenantId}/c1`]: [created("c1", 1, "m1", "holiday photos"), created("c1", 2, "m2", "more photos")] };
    const chat = {
      scanConversations: async (req: { tenantId: string }) =>
        create(ScanConversationsResponseSchema, { conversations: req.tenantId === kept.tenantId ? [create(ConversationSchema, { id: "c1" })] : [] }),
    } as unknown as ChatInternalCalls;
    const indexer = new MessageIndexer({
      index,
      cache: new SearchCache(createMemoryCache(), { listReadable: async () => [], check: async () => [] }),
      positions: createMemoryPositionStore(),
      logger,
      fetchAfter: async (tenantId, conversationId, after, limit) => (logs[`${tenantId}/${conversationId}`] ?? []).filter((e) => Number(e.seq) > after).slice(0, limit),
    });
    const rebuild = new SchemaRebuild({ index, chat, indexer, logger });
    const before = await rebuild.report();
    expect(before).toMatchObject({ codeVersion: SEARCH_INDEX_SCHEMA_VERSION, oldestVersion: 1, documents: 2, currentDocuments: 0, rebuilding: false });

    rebuild.start();
    await rebuild.done();
    const after = await rebuild.report();
    // The tenant chat no longer knows keeps its old document: done once, not retried forever.
    expect(after).toMatchObject({ documents: 3, currentDocuments: 2, tenantsDone: 2, tenantsTotal: 2, rebuilding: false });
    const withFiles = (scope: typeof kept) => index.search(scope, { query: "photos", conversationIds: ["c1"], pageSize: 5, hasAttachments: true });
    expect((await withFiles(kept)).hits.map((h) => h.messageId).sort()).toEqual(["m1", "m2"]);
    expect((await withFiles(gone)).hits).toEqual([]);
    expect(await index.tenantsBelowSchema(10)).toEqual([gone.tenantId]);
    await rebuild.stop();
    await index.close();
    db.close();
  });

  it("does nothing on an index whose documents are all current", async () => {
    const index = await createSqliteSearchIndex({ db: new Database(":memory:"), clock: new FakeClock(), pageTokens: new PageTokenCodec(Buffer.from("rebuild-test-secret-0123")) });
    let scans = 0;
    const chat = { scanConversations: async () => (scans++, create(ScanConversationsResponseSchema, {})) } as unknown as ChatInternalCalls;
    const indexer = new MessageIndexer({
      index,
      cache: new SearchCache(createMemoryCache(), { listReadable: async () => [], check: async () => [] }),
      positions: createMemoryPositionStore(),
      logger,
      fetchAfter: async () => [],
    });
    const rebuild = new SchemaRebuild({ index, chat, indexer, logger });
    rebuild.start();
    await rebuild.done();
    expect(scans).toBe(0);
    expect(await rebuild.report()).toMatchObject({ oldestVersion: SEARCH_INDEX_SCHEMA_VERSION, documents: 0, rebuilding: false, tenantsTotal: 0 });
    await index.close();
  });
});
