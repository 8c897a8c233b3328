import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { FakeClock } from "@caas/shared/clock";
import type { LogEvent } from "@caas/shared/eventing/log";
import { connectMongo } from "@caas/shared/mongo";
import { freshTenantScope, infraEnv, RUN_PREFIX } from "@caas/shared/testing";
import { afterAll, describe, expect, it } from "vitest";
import type { ChatBackend } from "../src/chat-stores.js";
import { CommitHandover } from "../src/commit-handover.js";
import { asPrincipal, openInstance, userPrincipal } from "./support/harness.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-handover-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const event = (conversationId: string, seq: number): LogEvent => ({
  tenantId: "t1",
  conversationId,
  seq,
  eventId: `e${seq}`,
  actorId: "alice",
  clientMessageId: `m${seq}`,
  payloadHash: "h",
  countable: true,
  countableSeq: seq,
  body: new Uint8Array(),
  createTimeMs: 1,
  redacted: false,
});

describe("commit handover", () => {
  it("hands a conversation's commits over in seq order whatever order they finish in, each in its own append's context", () => {
    const request = new AsyncLocalStorage<string>();
    const handed: [string, number, string | undefined][] = [];
    const handover = new CommitHandover((e) => handed.push([e.conversationId, e.seq, request.getStore()]));
    const [a1, a2, a3] = ["req-1", "req-2", "req-3"].map((id) => request.run(id, () => handover.open("t1", "a")));
    const b1 = request.run("req-b", () => handover.open("t1", "b"));
    a3!.committed(event("a", 3));
    a2!.committed(event("a", 2));
    // Another conversation does not wait for this one.
    b1.committed(event("b", 1));
    expect(handed).toEqual([["b", 1, "req-b"]]);
    a1!.committed(event("a", 1));
    expect(handed.slice(1)).toEqual([
      ["a", 1, "req-1"],
      ["a", 2, "req-2"],
      ["a", 3, "req-3"],
    ]);
  });

  it("lets the commits behind an append that committed nothing go, and settles a slot once", () => {
    const handed: number[] = [];
    const handover = new CommitHandover((e) => handed.push(e.seq));
    const first = handover.open("t1", "a");
    const second = handover.open("t1", "a");
    second.committed(event("a", 1));
    expect(handed).toEqual([]);
    first.dropped();
    first.committed(event("a", 9));
    second.dropped();
    expect(handed).toEqual([1]);
    // The queue is empty again: a new slot goes at once.
    handover.open("t1", "a").committed(event("a", 2));
    expect(handed).toEqual([1, 2]);
  });
});

/** Concurrent sends to one conversation through one instance reach the relay hook in seq order. */
function ordered(name: string, backend: () => ChatBackend): void {
  it(`hands concurrent sends to one conversation to the relay in seq order: ${name}`, async () => {
    const inst = await openInstance(backend(), { clock: new FakeClock(), secret: randomBytes(32) });
    try {
      const tenantId = freshTenantScope().tenantId;
      const [alice, bob] = ["alice", "bob"].map((u) => asPrincipal(inst.impl, userPrincipal(tenantId, u)));
      const conv = (await alice!.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"] })).conversation!.id;
      const created = inst.commits.filter((e) => e.conversationId === conv).length;
      // Within the per-user send burst: 12 each.
      const acks = await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? alice! : bob!).sendMessage({ conversationId: conv, clientMessageId: randomUUID(), text: "hi" })));
      const seqs = inst.commits.filter((e) => e.conversationId === conv).map((e) => e.seq);
      expect(seqs).toEqual(Array.from({ length: created + 24 }, (_, i) => i + 1));
      expect(acks.map((a) => Number(a.seq)).sort((x, y) => x - y)).toEqual(seqs.slice(created));
    } finally {
      await inst.close();
    }
  });
}

describe("commit handover through the log writer", () => {
  ordered("sqlite", () => ({ kind: "sqlite", path: join(dir, `chat-${randomUUID()}.db`) }));
  const mongoUrl = infraEnv("CAAS_MONGO_URL");
  const dbName = `${RUN_PREFIX}_chat_handover`;
  describe.skipIf(!mongoUrl)("on the MongoDB protocol (FerretDB here)", () => {
    afterAll(async () => {
      const conn = await connectMongo(mongoUrl!, dbName);
      await conn.client.db(dbName).dropDatabase();
      await conn.close();
    });
    ordered("mongodb protocol", () => ({ kind: "mongo", url: mongoUrl!, database: dbName, appName: "chat-handover-test", collectionPrefix: `t${randomUUID().replace(/-/g, "").slice(0, 10)}_` }));
  });
});
