import { readFileSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { CaasError, Code, ConversationType, createCaasClient, Sequencer, type Event, type WebSocketLike } from "@caas/client";

const platform = inject("embedded");
const gateway = platform.endpoints.gateway!;
const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();

/** A WebSocket factory a test can cut: `offline` refuses new connections, `cut` kills the open ones at the TCP level. */
function cuttableSockets() {
  const open = new Set<WebSocket>();
  const ctl = {
    offline: false,
    opened: 0,
    factory: (url: string) => {
      // A closed port stands in for an unreachable network.
      const ws = new WebSocket(ctl.offline ? "ws://127.0.0.1:1/ws" : url);
      if (!ctl.offline) ctl.opened++;
      open.add(ws);
      ws.on("close", () => open.delete(ws));
      return ws as unknown as WebSocketLike;
    },
    /** Destroys every open socket without a close frame, as a dropped network does. */
    cut: () => {
      for (const ws of open) (ws as unknown as { _socket?: { destroy(): void } })._socket?.destroy();
    },
  };
  return ctl;
}

/** A client of one user, with fast reconnects, and every event it delivered. */
function userClient(token: string, sockets?: ReturnType<typeof cuttableSockets>) {
  const client = createCaasClient({
    baseUrl: gateway,
    accessToken: token,
    realtime: { backoff: { initialMs: 100, maxMs: 400 }, ...(sockets ? { webSocket: sockets.factory } : {}) },
  });
  const events: Event[] = [];
  client.realtime.on("event", (e) => events.push(e));
  return { client, events };
}

const texts = (events: Event[], conversationId: string) =>
  events.filter((e) => e.conversationId === conversationId && e.payload.case === "messageCreated").map((e) => (e.payload.value as { message?: { text: string } }).message?.text ?? "");

async function until(what: string, pred: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let alice: string;
let bob: string;
let conversationId: string;
/** A fresh session (access and refresh token) for a user. */
let issue: (userId: string, deviceId: string) => Promise<{ accessToken: string; refreshToken: string }>;

beforeAll(async () => {
  // The SDK's own admin and backend clients set the tenant up: admin credential, then API key.
  const admin = createCaasClient({ baseUrl: gateway, accessToken: adminCredential });
  const { tenant } = await admin.tenants.createTenant({ name: `sdk-ts-${Date.now()}` });
  const { secret } = await admin.tenants.createApiKey({ tenantId: tenant!.id, name: "backend" });
  const backend = createCaasClient({ baseUrl: gateway, accessToken: secret });
  const token = async (userId: string) => {
    await backend.users.upsertUser({ userId, displayName: userId });
    return (await backend.users.issueUserToken({ userId, deviceId: "sdk" })).tokens!.accessToken;
  };
  [alice, bob] = await Promise.all([token("alice"), token("bob")]);
  issue = async (userId, deviceId) => (await backend.users.issueUserToken({ userId, deviceId })).tokens!;
  const a = createCaasClient({ baseUrl: gateway, accessToken: alice });
  conversationId = (await a.chat.createConversation({ type: ConversationType.DIRECT, memberIds: ["bob"] })).conversation!.id;
});

describe("@caas/client against the embedded platform", () => {
  it("delivers a live message between two users over the gateway's /ws", async () => {
    const a = userClient(alice);
    const b = userClient(bob);
    a.client.realtime.start();
    b.client.realtime.start();
    await Promise.all([a.client.realtime.next("synced"), b.client.realtime.next("synced")]);
    const sent = a.client.realtime.send({ conversationId, text: "hello bob" });
    expect(a.client.realtime.pending().map((p) => p.clientMessageId)).toContain(sent.clientMessageId);
    const ack = await sent.ack;
    await until("bob's event", () => texts(b.events, conversationId).includes("hello bob"));
    const got = b.events.find((e) => e.seq === ack.seq && e.conversationId === conversationId);
    expect(got?.payload.case).toBe("messageCreated");
    expect(a.client.realtime.pending()).toHaveLength(0);
    a.client.realtime.stop();
    b.client.realtime.stop();
  });

  it("keeps queued sends across a dropped connection and shows each message exactly once", async () => {
    const sockets = cuttableSockets();
    const a = userClient(alice, sockets);
    const b = userClient(bob);
    a.client.realtime.start();
    b.client.realtime.start();
    await Promise.all([a.client.realtime.next("synced"), b.client.realtime.next("synced")]);
    const tag = `drop-${Date.now()}`;

    // One send on the wire when the connection dies, more queued while it is down, and bob
    // writing meanwhile (alice gets those through resume).
    const first = a.client.realtime.send({ conversationId, text: `${tag} 0` });
    sockets.offline = true;
    sockets.cut();
    await a.client.realtime.next("state", (s) => s === "waiting");
    const queued = [1, 2, 3, 4].map((i) => a.client.realtime.send({ conversationId, text: `${tag} ${i}` }));
    const fromBob = await createCaasClient({ baseUrl: gateway, accessToken: bob }).chat.sendMessage({ conversationId, clientMessageId: `${tag}-bob`, text: `${tag} from bob` });
    await new Promise((r) => setTimeout(r, 600));
    expect(a.client.realtime.state).not.toBe("open");
    expect(a.client.realtime.pending().length).toBeGreaterThanOrEqual(4);

    sockets.offline = false;
    const acks = await Promise.all([first.ack, ...queued.map((q) => q.ack)]);
    expect(new Set(acks.map((x) => x.messageId)).size).toBe(5);
    const want = [0, 1, 2, 3, 4].map((i) => `${tag} ${i}`);
    await until("alice's own messages and bob's", () => want.every((t) => texts(a.events, conversationId).includes(t)) && texts(a.events, conversationId).includes(`${tag} from bob`));
    await until("bob's copy", () => want.every((t) => texts(b.events, conversationId).includes(t)));
    expect(sockets.opened).toBeGreaterThanOrEqual(2);

    for (const who of [a, b]) {
      const mine = texts(who.events, conversationId).filter((t) => t.startsWith(tag));
      for (const t of want) expect(mine.filter((x) => x === t)).toHaveLength(1);
      // Once per seq, in seq order, with no hole: the sequencer's promise to the app.
      const seqs = who.events.filter((e) => e.conversationId === conversationId).map((e) => e.seq);
      expect(new Set(seqs).size).toBe(seqs.length);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1]! + 1n);
    }
    expect(a.events.some((e) => e.seq === fromBob.seq)).toBe(true);

    // History on the server holds each queued message once.
    const history = await a.client.chat.listMessages({ conversationId, pageSize: 100 });
    const stored = history.messages.map((m) => m.text).filter((t) => t.startsWith(tag));
    for (const t of want) expect(stored.filter((x) => x === t)).toHaveLength(1);
    expect(a.client.realtime.pending()).toHaveLength(0);
    a.client.realtime.stop();
    b.client.realtime.stop();
  });

  it("answers the same client_message_id with the original ack after a reconnect", async () => {
    const a = userClient(alice);
    a.client.realtime.start();
    await a.client.realtime.next("synced");
    const clientMessageId = `retry-${Date.now()}`;
    const one = await a.client.realtime.send({ conversationId, clientMessageId, text: "once" }).ack;
    const again = await a.client.realtime.send({ conversationId, clientMessageId, text: "once" }).ack;
    expect(again.duplicate).toBe(true);
    expect(again.messageId).toBe(one.messageId);
    expect(again.seq).toBe(one.seq);
    a.client.realtime.stop();
  });

  it("reports refused calls and sends as CaasError with code and field violations", async () => {
    const { client } = userClient(alice);
    const err = await client.chat.sendMessage({ conversationId: "not-a-uuid", clientMessageId: "x1", text: "hi" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CaasError);
    const ce = err as CaasError;
    expect(ce.code).toBe(Code.InvalidArgument);
    expect(ce.codeName).toBe("INVALID_ARGUMENT");
    expect(ce.fieldViolations.map((v) => v.field)).toContain("conversation_id");
    expect(ce.fieldViolations.find((v) => v.field === "conversation_id")?.description).toMatch(/uuid/i);

    // The same over the realtime queue: refused for good, removed from the queue, reported.
    client.realtime.start();
    await client.realtime.next("synced");
    const failed = client.realtime.next("sendFailed");
    const bad = client.realtime.send({ conversationId: "not-a-uuid", text: "hi" });
    const frameErr = await bad.ack.then(
      () => undefined,
      (e: unknown) => e as CaasError,
    );
    expect(frameErr).toBeInstanceOf(CaasError);
    expect(frameErr!.code).toBe(Code.InvalidArgument);
    expect(frameErr!.fieldViolations.map((v) => v.field)).toContain("conversation_id");
    expect((await failed).item.clientMessageId).toBe(bad.clientMessageId);
    expect(client.realtime.pending()).toHaveLength(0);

    // Not a member: NOT_FOUND without field details.
    const other = await client.chat.getConversation({ conversationId: "0190b3a4-0000-7000-8000-000000000000" }).then(
      () => undefined,
      (e: unknown) => e as CaasError,
    );
    expect(other?.code).toBe(Code.NotFound);
    expect(other?.fieldViolations).toEqual([]);
    client.realtime.stop();
  });

  it("fills a seq gap through the server's Sync, in order, paging past one page", async () => {
    const a = createCaasClient({ baseUrl: gateway, accessToken: alice });
    const { conversation } = await a.chat.createConversation({ type: ConversationType.GROUP, title: "gap", memberIds: ["bob"] });
    const id = conversation!.id;
    for (let i = 0; i < 5; i++) await a.chat.sendMessage({ conversationId: id, clientMessageId: `gap-${i}`, text: `gap ${i}` });
    const head = (await a.chat.sync({ conversationId: id, afterSeq: 5n })).events[0]!;
    const out: bigint[] = [];
    const pages: bigint[] = [];
    const s = new Sequencer(
      (e) => out.push(e.seq),
      async (conv, afterSeq) => {
        pages.push(afterSeq);
        // Two events a page, so the fill must follow has_more.
        const r = await a.chat.sync({ conversationId: conv, afterSeq, limit: 2 });
        return { events: r.events, hasMore: r.hasMore };
      },
      (_c, err) => {
        throw err;
      },
    );
    s.seed(id, 1n);
    s.push(head); // seq 6 arrives live while 2..5 never did
    await until("the gap filled", () => out.length === 5);
    expect(out).toEqual([2n, 3n, 4n, 5n, 6n]);
    expect(pages.slice(0, 2)).toEqual([1n, 3n]);
  });

  it("refreshes the token when the realtime connection is refused for it, and stops for good when the session is revoked", async () => {
    const session = await issue("alice", "revoked-later");
    let refreshed = 0;
    const client = createCaasClient({
      baseUrl: gateway,
      accessToken: "not-a-token",
      refresh: async () => {
        refreshed++;
        return session.accessToken;
      },
      realtime: { backoff: { initialMs: 50, maxMs: 100 } },
    });
    const states: string[] = [];
    client.realtime.on("state", (s) => states.push(s));
    client.realtime.start();
    await client.realtime.next("open");
    expect(refreshed).toBe(1);
    expect(states.filter((s) => s === "connecting")).toHaveLength(2);

    const closed = client.realtime.next("closed");
    await client.auth.signOut({});
    expect((await closed).code).toBe(4000 + 4); // CloseCode.REVOKED: sign in again, never reconnect
    await new Promise((r) => setTimeout(r, 300));
    expect(client.realtime.state).toBe("closed");
    expect(states.filter((s) => s === "connecting")).toHaveLength(2);
  });

  it("refreshes a refused token through the callback and retries the call", async () => {
    let refreshed = 0;
    const client = createCaasClient({
      baseUrl: gateway,
      accessToken: "not-a-token",
      refresh: async () => {
        refreshed++;
        return alice;
      },
    });
    const { conversations } = await client.chat.listConversations({});
    expect(refreshed).toBe(1);
    expect(conversations.map((c) => c.conversation?.id)).toContain(conversationId);
    const noRefresh = createCaasClient({ baseUrl: gateway, accessToken: "not-a-token" });
    const err = await noRefresh.chat.listConversations({}).then(
      () => undefined,
      (e: unknown) => e as CaasError,
    );
    expect(err?.code).toBe(Code.Unauthenticated);
  });
});
