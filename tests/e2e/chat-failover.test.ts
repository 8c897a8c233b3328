import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ChatService, type SendMessageResponse } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import type { Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import type { Message } from "@caas/gen/caas/chat/v1/message_pb.js";
import { RetryInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { connectMongo } from "@caas/shared/mongo";
import { serverEnvFrom } from "../support/real-servers.mjs";
import { spawnCluster, type SpawnedCluster } from "../support/spawn-cluster.js";
import { bearer, tenantWithUsers } from "../support/tenants.js";

const cluster = inject("cluster");

/** Failures a client retries with the same client_message_id: the instance went away mid-call. */
const RETRYABLE = new Set([Code.Unavailable, Code.DeadlineExceeded, Code.Canceled, Code.Unknown, Code.Internal, Code.Aborted]);

async function syncAll(client: Client<typeof ChatService>, conversationId: string): Promise<Event[]> {
  const out: Event[] = [];
  for (let after = 0n; ;) {
    const page = await client.sync({ conversationId, afterSeq: after, limit: 500 });
    out.push(...page.events);
    if (!page.hasMore) return out;
    after = page.events[page.events.length - 1]!.seq;
  }
}

async function historyAll(client: Client<typeof ChatService>, conversationId: string): Promise<Message[]> {
  const out: Message[] = [];
  for (let pageToken = ""; ;) {
    const page = await client.listMessages({ conversationId, pageSize: 200, pageToken });
    out.push(...page.messages);
    if (!page.nextPageToken) return out;
    pageToken = page.nextPageToken;
  }
}

/**
 * Concurrent senders through two chat instances, one chat process SIGKILLed mid-burst.
 * Senders retry a failed send with the same client_message_id through the gateway, which stops
 * routing to the dead instance. Every acknowledged message is in the history exactly once and the
 * log stays dense and ordered; the killed instance is started again and serves the same log.
 *
 * The kill happens in a private cluster (auth, gateway, chat x2 as separate processes on the same
 * real engines, with their own database, topics and consumer groups), not in the shared one of
 * the global setup: test files run in parallel, and the other files' cluster tests must never
 * meet a dead chat instance or a consumer-group rebalance they did not cause.
 */
describe.skipIf(!cluster)("chat failover in cluster mode: one of two chat processes killed mid-burst", () => {
  const runPrefix = `caas_failover_${Date.now().toString(36)}_${process.pid}`;
  let spawned: SpawnedCluster;

  beforeAll(async () => {
    const serverEnv = serverEnvFrom();
    spawned = await spawnCluster({
      runPrefix,
      serverEnv,
      layout: [
        { service: "auth", instanceId: "auth-1" },
        { service: "chat", instanceId: "chat-1" },
        { service: "chat", instanceId: "chat-2" },
        { service: "gateway", instanceId: "gateway-1" },
      ],
    });
  }, 180_000);

  afterAll(async () => {
    if (!spawned) return;
    // Every process, the restarted one included, ends cleanly on SIGTERM.
    expect(await spawned.stop()).toBe(0);
    const mongo = await connectMongo(process.env.CAAS_MONGO_URL!, runPrefix);
    await mongo.client.db(runPrefix).dropDatabase();
    await mongo.close();
  }, 60_000);

  it("loses no acknowledged message, duplicates none and keeps seq dense across the kill and restart", async () => {
    const c = spawned.info;
    const authUrl = c.instances.find((i) => i.service === "auth")!.url;
    const chats = c.instances.filter((i) => i.service === "chat");
    expect(chats).toHaveLength(2);
    const victim = chats[1]!;
    const survivor = chats[0]!;
    const gateway = c.endpoints.gateway!;
    const users = ["s1", "s2", "s3", "s4", "s5", "s6"];
    const tokens = (await tenantWithUsers(authUrl, c.adminToken, [...users, "reader"], "failover")).tokens;
    const clients = new Map<string, Client<typeof ChatService>>();
    const client = (user: string, baseUrl: string) => {
      const key = `${user} ${baseUrl}`;
      if (!clients.has(key)) clients.set(key, createClient(ChatService, createGrpcTransport({ baseUrl, interceptors: [bearer(tokens[user]!)] })));
      return clients.get(key)!;
    };
    const { conversation } = await client("s1", gateway).createConversation({ type: ConversationType.GROUP, memberIds: [...users.slice(1), "reader"] });
    const id = conversation!.id;

    // First attempts rotate over the gateway and each chat instance directly, so both instances
    // take writes until one dies; every retry goes through the gateway.
    const targets = [gateway, survivor.url, victim.url];
    const acks = new Map<string, SendMessageResponse>();
    const sentInOrder = new Map<string, string[]>();
    const failures: { viaGateway: boolean; afterKill: boolean; code: Code }[] = [];
    let gatewayAttemptsAfterKill = 0;
    let acked = 0;
    let killed = false;
    let gaveUp = false;
    let afterKill = 0;

    const sendWithRetry = async (user: string, clientMessageId: string, first: string) => {
      const text = `${user} says ${clientMessageId}`;
      for (let attempt = 0; attempt < 40; attempt++) {
        const target = attempt === 0 ? first : gateway;
        const startedAfterKill = killed;
        if (startedAfterKill && target === gateway) gatewayAttemptsAfterKill++;
        try {
          const ack = await client(user, target).sendMessage({ conversationId: id, clientMessageId, text });
          if (killed) afterKill++;
          return ack;
        } catch (err) {
          const e = ConnectError.from(err);
          if (e.code === Code.ResourceExhausted) {
            const d = e.findDetails(RetryInfoSchema)[0]?.retryDelay;
            await new Promise((r) => setTimeout(r, d ? Number(d.seconds) * 1000 + d.nanos / 1e6 : 100));
            continue;
          }
          if (!RETRYABLE.has(e.code)) throw e;
          failures.push({ viaGateway: target === gateway, afterKill: startedAfterKill, code: e.code });
          await new Promise((r) => setTimeout(r, 50 * Math.min(attempt + 1, 10)));
        }
      }
      throw new Error(`send ${clientMessageId} never acknowledged`);
    };

    const kill = (async () => {
      // Mid-burst: after some acknowledgements, while every sender has calls in flight.
      while (acked < 30 && !gaveUp) await new Promise((r) => setTimeout(r, 5));
      await spawned.kill(victim.instanceId);
      killed = true;
    })().catch((err: unknown) => {
      gaveUp = true;
      throw err;
    });

    try {
      await Promise.all([
        kill,
        ...users.map(async (user, u) => {
          const mine: string[] = [];
          sentInOrder.set(user, mine);
          // Keep sending until the kill is done and the survivors took a share of the burst.
          for (let n = 0; !gaveUp && (!killed || afterKill < 60 || n < 12); n++) {
            const clientMessageId = `${user}-${n}`;
            const ack = await sendWithRetry(user, clientMessageId, targets[(u + n) % targets.length]!);
            acks.set(clientMessageId, ack);
            mine.push(clientMessageId);
            acked++;
          }
        }),
      ]).catch((err: unknown) => {
        gaveUp = true;
        throw err;
      });
    } finally {
      await kill.catch(() => undefined);
      if (killed) await spawned.start(victim.instanceId);
    }

    expect(killed).toBe(true);
    // Calls straight to the dead instance failed and were retried. Through the gateway, a call
    // in flight on the killed instance reads as UNAVAILABLE (never as a cancel the client did not
    // make), and once the instance is gone the gateway routes around it: a refused connection is
    // resent to the survivor and the dead instance is skipped. Without that, about half of the
    // gateway calls after the kill would fail; a call or two may still race the gateway
    // noticing the closed connection.
    expect(failures.filter((f) => !f.viaGateway).length).toBeGreaterThan(0);
    const viaGateway = failures.filter((f) => f.viaGateway);
    expect(viaGateway.map((f) => f.code)).toEqual(viaGateway.map(() => Code.Unavailable));
    expect(gatewayAttemptsAfterKill).toBeGreaterThanOrEqual(15);
    expect(viaGateway.filter((f) => f.afterKill).length).toBeLessThanOrEqual(2);

    const reader = client("reader", survivor.url);
    const events = await syncAll(reader, id);
    // Dense and ordered: 1 (conversation created) .. N, each seq once.
    expect(events.map((e) => Number(e.seq))).toEqual(Array.from({ length: acks.size + 1 }, (_, i) => i + 1));
    const created = events.flatMap((e) => (e.payload.case === "messageCreated" ? [e.payload.value.message!] : []));
    expect(created).toHaveLength(acks.size);
    for (const [clientMessageId, ack] of acks) {
      const found = created.filter((m) => m.clientMessageId === clientMessageId);
      expect(found.map((m) => [m.id, m.seq])).toEqual([[ack.messageId, ack.seq]]);
    }
    // Each sender's messages are in the log in the order it sent them.
    for (const [user, ids] of sentInOrder) {
      expect(created.filter((m) => m.senderId === user).map((m) => m.clientMessageId)).toEqual(ids);
    }
    // The history read path shows the same messages once each.
    const history = await historyAll(reader, id);
    expect(history.map((m) => m.id).sort()).toEqual([...acks.values()].map((a) => a.messageId).sort());

    // The restarted instance serves the same log and takes writes again.
    const again = client("s1", victim.url);
    const ack = await again.sendMessage({ conversationId: id, clientMessageId: "after-restart", text: "back" });
    expect(ack.seq).toBe(BigInt(acks.size + 2));
    expect(await again.sendMessage({ conversationId: id, clientMessageId: "s1-0", text: "s1 says s1-0" })).toMatchObject({ ...acks.get("s1-0"), duplicate: true });
    expect((await syncAll(client("reader", victim.url), id)).map((e) => Number(e.seq))).toEqual(Array.from({ length: acks.size + 2 }, (_, i) => i + 1));
  }, 120_000);
});
