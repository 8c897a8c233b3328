import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { connectMongo } from "@caas/shared/mongo";
import { serverEnvFrom } from "../support/real-servers.mjs";
import { spawnCluster, type SpawnedCluster } from "../support/spawn-cluster.js";
import { bearer, tenantWithUsers } from "../support/tenants.js";
import { wsConnection, type RealtimeConnection } from "./realtime-clients.js";

const cluster = inject("cluster");
/**
 * A subscriber that follows the protocol: it keeps every event its connections carry (catch-up
 * and pushed), stores the newest ResumeDone or Checkpoint cursor and resumes with it.
 */
class Subscriber {
  readonly seqs = new Set<bigint>();
  cursor = "";
  checkpoints = 0;
  conn?: RealtimeConnection;
  private read = 0;
  private nextId = 1n;

  constructor(
    private readonly token: string,
    private readonly conversationId: string,
  ) {}

  /** Connects to `url` (retrying while nothing listens yet), authenticates and resumes. */
  async connect(url: string, withinMs: number): Promise<void> {
    const until = Date.now() + withinMs;
    for (;;) {
      try {
        this.conn = await wsConnection(url, "subscriber");
        break;
      } catch (err) {
        if (Date.now() > until) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    this.read = 0;
    await this.conn.call({ id: this.nextId++, frame: { case: "auth", value: { accessToken: this.token } } }, 60_000);
    const done = await this.conn.call({ id: this.nextId++, frame: { case: "resume", value: { cursor: this.cursor, perConversationLimit: 200 } } }, 60_000);
    if (done.frame.case !== "resumeDone") throw new Error(`resume failed: ${done.frame.case}`);
    this.drain();
  }

  drain(): void {
    const frames = this.conn?.frames ?? [];
    for (; this.read < frames.length; this.read++) {
      const f = frames[this.read]!.frame;
      if (f.case === "changes" && f.value.conversationId === this.conversationId) for (const e of f.value.events) this.seqs.add(e.seq);
      else if (f.case === "event" && f.value.conversationId === this.conversationId) this.seqs.add(f.value.seq);
      else if (f.case === "resumeDone") this.cursor = f.value.cursor;
      else if (f.case === "checkpoint") {
        this.cursor = f.value.cursor;
        this.checkpoints++;
      }
    }
  }
}

/**
 * A socket process killed and started again while messages keep coming: the new process joins a
 * consumer group of its own (a new instance id, as the host-and-pid default gives), which starts
 * from the newest record once joined, while the subscriber has already reconnected and resumed.
 * The subscriber, resuming with its newest cursor, must end with every message, without Sync.
 */
describe.skipIf(!cluster)("realtime in cluster mode: a socket process killed and restarted while messages flow", () => {
  const runPrefix = `caas_rtfail_${Date.now().toString(36)}_${process.pid}`;
  let spawned: SpawnedCluster;
  let starts = 0;

  beforeAll(async () => {
    const serverEnv = serverEnvFrom();
    spawned = await spawnCluster({
      runPrefix,
      serverEnv,
      layout: [
        { service: "auth", instanceId: "auth-1" },
        { service: "chat", instanceId: "chat-1" },
        { service: "socket", instanceId: "socket-1", env: () => ({ CAAS_INSTANCE_ID: `socket-1-start-${++starts}`, CAAS_REALTIME_CHECKPOINT_MS: "500" }) },
        { service: "gateway", instanceId: "gateway-1" },
      ],
    });
  }, 180_000);

  afterAll(async () => {
    if (!spawned) return;
    expect(await spawned.stop()).toBe(0);
    const mongo = await connectMongo(process.env.CAAS_MONGO_URL!, runPrefix);
    await mongo.client.db(runPrefix).dropDatabase();
    await mongo.close();
  }, 60_000);

  it("a resuming subscriber gets every message sent before, during and after the restart", async () => {
    const url = (service: string) => spawned.info.instances.find((i) => i.service === service)!.url;
    const users = await tenantWithUsers(url("auth"), spawned.info.adminToken, ["alice", "bob"], "rt-failover");
    const alice: Client<typeof ChatService> = createClient(ChatService, createGrpcTransport({ baseUrl: url("gateway"), interceptors: [bearer(users.token("alice"))] }));
    const { conversation } = await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: "failover" });
    const conversationId = conversation!.id;
    const bob = new Subscriber(users.token("bob"), conversationId);
    await bob.connect(url("socket"), 10_000);

    let sending = true;
    let sent = 0;
    const sender = (async () => {
      while (sending) {
        await alice.sendMessage({ conversationId, clientMessageId: `m-${sent}`, text: `message ${sent}` });
        sent++;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    await new Promise((r) => setTimeout(r, 2_000));
    await spawned.kill("socket-1");
    bob.drain();
    const restarting = spawned.start("socket-1");
    // Reconnect as soon as the new process accepts connections, before its consumer has joined.
    await bob.connect(url("socket"), 60_000);
    await restarting;
    // Long enough for checkpoints made after the restart to be more than chat's 10 s overlap
    // past the messages sent while the new consumer was joining.
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      bob.drain();
      await new Promise((r) => setTimeout(r, 200));
    }
    sending = false;
    await sender;
    await new Promise((r) => setTimeout(r, 2_000));
    bob.drain();
    bob.conn!.close();
    await bob.conn!.waitClosed();
    await bob.connect(url("socket"), 10_000);
    await new Promise((r) => setTimeout(r, 1_000));
    bob.drain();

    const { events } = await alice.sync({ conversationId, afterSeq: 0n, limit: 500 });
    const all = events.map((e) => e.seq);
    expect(all.length).toBe(sent + 1);
    expect(all.filter((s) => !bob.seqs.has(s))).toEqual([]);
    expect(bob.checkpoints).toBeGreaterThan(0);
    bob.conn!.close();
  }, 180_000);
});
