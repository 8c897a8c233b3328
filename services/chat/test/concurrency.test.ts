import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SendMessageResponse } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { Code } from "@connectrpc/connect";
import { connectMongo } from "@caas/shared/mongo";
import { FakeClock } from "@caas/shared/clock";
import { toConnectError } from "@caas/shared/errors";
import { freshTenantScope, infraEnv, RUN_PREFIX } from "@caas/shared/testing";
import { afterAll, describe, expect, it } from "vitest";
import type { ChatBackend } from "../src/chat-stores.js";
import { asPrincipal, openInstance, userPrincipal, type Instance } from "./support/harness.js";

const dir = mkdtempSync(join(tmpdir(), "caas-chat-concurrency-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const USERS = ["u1", "u2", "u3", "u4"];

/**
 * Four users send concurrently through two chat instances sharing one backend; instance B is
 * killed (its stores closed) mid-burst and the sends it failed are retried through A with the
 * same client_message_id, as a client would. Every acknowledged message must be in the log
 * exactly once, every client_message_id exactly once, and the seqs dense and ordered.
 */
/** This test is about ordering, not rate limits: buckets far larger than the burst. */
const UNLIMITED_SENDS = { sendRate: { capacity: 10_000, refillPerSec: 10_000 } };

async function burst(open: () => Promise<Instance>, perUser: number) {
  const a = await open();
  const b = await open();
  const tenantId = freshTenantScope().tenantId;
  const client = (inst: Instance, user: string) => asPrincipal(inst.impl, userPrincipal(tenantId, user));
  try {
    const { conversation } = await client(a, "u1").createConversation({ type: ConversationType.GROUP, memberIds: USERS.slice(1) });
    const conversationId = conversation!.id;
    const acks = new Map<string, SendMessageResponse>();
    const failed: { user: string; key: string }[] = [];
    let acked = 0;
    let killed: Promise<void> | undefined;
    /** Why each call through B failed (its error), for the caller to check the codes. */
    const errors: unknown[] = [];
    // No client deadline: every call in flight through B when its stores close must settle by
    // itself (ADR 0026: closing a MongoClient could leave an operation, and its RPC, pending forever).
    const send = async (user: string, key: string, via: Instance) => {
      try {
        const ack = await client(via, user).sendMessage({ conversationId, clientMessageId: key, text: `${key} text` });
        acks.set(key, ack);
        if (++acked === Math.floor((USERS.length * perUser) / 3)) killed = b.close();
      } catch (err) {
        errors.push(err);
        failed.push({ user, key });
      }
    };
    // Every user sends in rounds of two at once, one through each instance; all users at once.
    await Promise.all(
      USERS.map(async (user) => {
        for (let i = 0; i < perUser; i += 2) await Promise.all([send(user, `${user}-${i}`, a), send(user, `${user}-${i + 1}`, b)]);
      }),
    );
    await killed;
    // The client retries what was not acknowledged, on the instance still alive.
    for (const { user, key } of failed) acks.set(key, await client(a, user).sendMessage({ conversationId, clientMessageId: key, text: `${key} text` }));

    const events = [];
    for (let after = 0n; ;) {
      const page = await client(a, "u2").sync({ conversationId, afterSeq: after, limit: 500 });
      events.push(...page.events);
      if (!page.hasMore) break;
      after = page.events[page.events.length - 1]!.seq;
    }
    expect(events.map((e) => Number(e.seq))).toEqual(Array.from({ length: events.length }, (_, i) => i + 1));
    const messages = events.flatMap((e) => (e.payload.case === "messageCreated" ? [e.payload.value.message!] : []));
    expect(messages).toHaveLength(USERS.length * perUser);
    expect(new Set(messages.map((m) => `${m.senderId}/${m.clientMessageId}`)).size).toBe(USERS.length * perUser);
    for (const [key, ack] of acks) {
      const found = messages.filter((m) => m.id === ack.messageId);
      expect(found, key).toHaveLength(1);
      expect(found[0]).toMatchObject({ seq: ack.seq, clientMessageId: key, senderId: key.split("-")[0] });
    }
    expect(acks.size).toBe(USERS.length * perUser);
    // The projection caught up with the log: the last message is the newest one.
    const view = await client(a, "u3").getConversation({ conversationId });
    expect(view.conversation?.lastSeq).toBe(BigInt(events.length));
    return { failed: failed.length, acked, errors };
  } finally {
    await a.close();
    await b.close();
  }
}

describe("seq dense and ordered with concurrent senders through two chat instances", () => {
  it("on one SQLite file (two connections), one instance killed mid-burst", async () => {
    const path = join(dir, `chat-${randomUUID()}.db`);
    const secret = randomBytes(32);
    const clock = new FakeClock();
    const r = await burst(() => openInstance({ kind: "sqlite", path }, { clock, secret, limits: UNLIMITED_SENDS }), 40);
    // B died with sends in flight or still to come: they failed and were retried through A.
    expect(r.failed).toBeGreaterThan(0);
  });

  const mongoUrl = infraEnv("CAAS_MONGO_URL");
  const dbName = `${RUN_PREFIX}_chat_concurrency`;
  describe.skipIf(!mongoUrl)("on the MongoDB protocol (FerretDB here)", () => {
    afterAll(async () => {
      const conn = await connectMongo(mongoUrl!, dbName);
      await conn.client.db(dbName).dropDatabase();
      await conn.close();
    });

    it("through two MongoClients, one instance killed mid-burst", async () => {
      const secret = randomBytes(32);
      const clock = new FakeClock();
      const collectionPrefix = `t${randomUUID().replace(/-/g, "").slice(0, 10)}_`;
      let n = 0;
      const backend = (): ChatBackend => ({ kind: "mongo", url: mongoUrl!, database: dbName, appName: `chat-${++n}`, collectionPrefix });
      const r = await burst(() => openInstance(backend(), { clock, secret, limits: UNLIMITED_SENDS }), 16);
      expect(r.failed).toBeGreaterThan(0);
      // A send refused by a closing instance is UNAVAILABLE (retry elsewhere), never INTERNAL.
      expect(r.errors.map((e) => toConnectError(e).code)).toEqual(r.errors.map(() => Code.Unavailable));
    }, 60_000);
  });
});
