import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { CloseCode, type ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { RetryInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { bearer, grpcConnection, grpcWebConnection, tenantWithUsers, wsConnection, type RealtimeConnection } from "./realtime-clients.js";

const platform = inject("embedded");
const cluster = inject("cluster");

/** The defaults the platforms run with (README configuration: CAAS_REALTIME_*, CAAS_WS_MAX_PAYLOAD, CAAS_RATE_LIMITS). */
const MAX_CONNECTIONS_PER_USER = 16;
const MAX_INFLIGHT_SENDS = 32;
const SEND_BURST = 20;
const MAX_FRAME_BYTES = 64 * 1024;

let nextId = 1n;
const id = () => nextId++;
const errorOf = (f: ServerFrame | undefined) => (f?.frame.case === "error" ? f.frame.value : undefined);
const retryMs = (f: ServerFrame | undefined) => {
  const d = errorOf(f)?.retryAfter;
  return d ? Number(d.seconds) * 1000 + d.nanos / 1e6 : 0;
};
const messageText = (conversationId: string, text: string) => (f: ServerFrame) =>
  f.frame.case === "event" && f.frame.value.conversationId === conversationId && f.frame.value.payload.case === "messageCreated" && f.frame.value.payload.value.message?.text === text;

async function wsAs(url: string, token: string, label: string) {
  const c = await wsConnection(url, label);
  const ok = await c.call({ id: id(), frame: { case: "auth", value: { accessToken: token } } });
  expect(ok.frame.case, `${label} auth`).toBe("authOk");
  return c;
}

/**
 * Runs `send`, waiting out RESOURCE_EXHAUSTED refusals by their RetryInfo delay (the sender's
 * bucket may still be empty from a burst a moment ago); other errors fail the test.
 */
async function sendPatiently(send: () => Promise<unknown>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await send();
      return;
    } catch (err) {
      const e = ConnectError.from(err);
      if (e.code !== Code.ResourceExhausted || attempt >= 20) throw e;
      const d = e.findDetails(RetryInfoSchema)[0]?.retryDelay;
      await new Promise((r) => setTimeout(r, d ? Number(d.seconds) * 1000 + d.nanos / 1e6 + 10 : 200));
    }
  }
}

/** Proves a connection is alive and still served: a ping round trip and then a live message. */
async function stillServed(c: RealtimeConnection, send: () => Promise<unknown>, conversationId: string, text: string) {
  const pong = await c.call({ id: id(), frame: { case: "ping", value: { nonce: 5n } } });
  expect(pong.frame.case).toBe("pong");
  await sendPatiently(send);
  await c.waitFor(messageText(conversationId, text), 20_000, `live message ${text}`);
  expect(c.closed).toBeUndefined();
}

/** Opens connections of one user until one is refused; the refusals must be clear. */
async function connectionsPerUser(urls: string[], token: string) {
  const open: RealtimeConnection[] = [];
  try {
    for (let i = 0; i < MAX_CONNECTIONS_PER_USER; i++) open.push(await wsAs(urls[i % urls.length]!, token, `conn-${i}`));
    const extra = await wsConnection(urls[0]!, "one-too-many");
    const refused = await extra.call({ id: 77n, frame: { case: "auth", value: { accessToken: token } } });
    expect(errorOf(refused)).toMatchObject({ code: Code.ResourceExhausted });
    expect(errorOf(refused)?.message).toContain(`at most ${MAX_CONNECTIONS_PER_USER}`);
    expect((await extra.waitClosed()).code).toBe(4000 + CloseCode.TOO_MANY_CONNECTIONS);
    const closing = extra.frames.at(-1);
    expect(closing?.frame.case === "closing" && closing.frame.value.code).toBe(CloseCode.TOO_MANY_CONNECTIONS);
    expect(closing?.frame.case === "closing" && closing.frame.value.retryAfter).toBeTruthy();
    // The open ones are unharmed; closing one makes room again (once its removal is recorded).
    for (const c of open) expect((await c.call({ id: id(), frame: { case: "ping", value: { nonce: 1n } } })).frame.case).toBe("pong");
    open.shift()!.close();
    const deadline = Date.now() + 15_000;
    for (;;) {
      const again = await wsConnection(urls[0]!, "room-again");
      const reply = await again.call({ id: id(), frame: { case: "auth", value: { accessToken: token } } });
      if (reply.frame.case === "authOk") {
        open.push(again);
        break;
      }
      expect(Date.now(), "a closed connection frees its place").toBeLessThan(deadline);
      await again.waitClosed();
    }
  } finally {
    for (const c of open) c.close();
  }
}

/**
 * Opens MAX + 4 connections of one user at once (spread over `urls`): exactly MAX get AuthOk,
 * the others TOO_MANY_CONNECTIONS, however their authentications interleave.
 */
async function concurrentConnections(urls: string[], token: string) {
  const extra = 4;
  const conns = await Promise.all(Array.from({ length: MAX_CONNECTIONS_PER_USER + extra }, (_, i) => wsConnection(urls[i % urls.length]!, `race-${i}`)));
  try {
    const replies = await Promise.all(conns.map((c) => c.call({ id: 9n, frame: { case: "auth", value: { accessToken: token } } }, 20_000)));
    expect(replies.filter((f) => f.frame.case === "authOk")).toHaveLength(MAX_CONNECTIONS_PER_USER);
    const refused = conns.filter((_, i) => replies[i]!.frame.case !== "authOk");
    expect(refused).toHaveLength(extra);
    for (const c of refused) {
      expect(errorOf(c.frames.find((f) => f.replyTo === 9n))).toMatchObject({ code: Code.ResourceExhausted });
      expect((await c.waitClosed()).code).toBe(4000 + CloseCode.TOO_MANY_CONNECTIONS);
    }
  } finally {
    for (const c of conns) c.close();
  }
}

describe("realtime limits on the embedded platform", () => {
  const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();
  const socketUrl = platform.endpoints.socket!;
  let t: Awaited<ReturnType<typeof tenantWithUsers>>;
  let dm: string;
  const chatAs = (user: string) => createClient(ChatService, createGrpcTransport({ baseUrl: platform.endpoints.chat!, interceptors: [bearer(t.token(user))] }));

  beforeAll(async () => {
    t = await tenantWithUsers(platform.endpoints.auth!, adminCredential, ["ann", "ben", "dan"]);
    dm = (await chatAs("ann").createConversation({ type: ConversationType.DIRECT, memberIds: ["ben"] })).conversation!.id;
  });

  it("refuses sends beyond the in-flight bound and the per-user rate with RESOURCE_EXHAUSTED and retry_after; the connection and a neighbour stay served", async () => {
    const ann = await wsAs(socketUrl, t.token("ann"), "ann-burst");
    const neighbour = await wsAs(socketUrl, t.token("ben"), "ben-neighbour");
    const total = 100;
    const first = nextId;
    nextId += BigInt(total);
    ann.burst(Array.from({ length: total }, (_, i) => ({ id: first + BigInt(i), frame: { case: "send" as const, value: { conversationId: dm, clientMessageId: `burst-${i}`, text: `burst ${i}` } } })));
    const replies = await Promise.all(Array.from({ length: total }, (_, i) => ann.waitFor((f) => f.replyTo === first + BigInt(i), 20_000, `reply ${i}`)));
    const acks = replies.filter((f) => f.frame.case === "sendAck");
    const inflight = replies.filter((f) => errorOf(f)?.message.includes("in flight"));
    const rated = replies.filter((f) => errorOf(f)?.message.includes("rate limit"));
    expect(acks.length + inflight.length + rated.length, "every frame got one clear answer").toBe(total);
    expect(acks.length).toBeGreaterThan(0);
    expect(acks.length).toBeLessThanOrEqual(SEND_BURST);
    // Read together, frames past the first MAX_INFLIGHT_SENDS find that many still unanswered.
    expect(inflight.length, "frames past the in-flight bound").toBeGreaterThan(0);
    expect(inflight.length).toBeLessThanOrEqual(total - MAX_INFLIGHT_SENDS);
    expect(errorOf(inflight[0])?.message).toContain(`at most ${MAX_INFLIGHT_SENDS}`);
    expect(rated.length, "sends past the per-user burst").toBeGreaterThan(0);
    for (const f of [...inflight, ...rated]) {
      expect(errorOf(f)?.code).toBe(Code.ResourceExhausted);
      expect(retryMs(f)).toBeGreaterThan(0);
    }
    expect(ann.closed).toBeUndefined();
    await stillServed(neighbour, () => chatAs("ann").sendMessage({ conversationId: dm, clientMessageId: "after-burst", text: "after burst" }), dm, "after burst");
    // The same per-user bucket governs the gRPC-web Send RPC: refused with RESOURCE_EXHAUSTED and RetryInfo.
    const web = grpcWebConnection(socketUrl, t.token("ann"), "ann-web");
    await web.waitFor((f) => f.frame.case === "authOk");
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        web.rpc.send({ frame: { id: id(), frame: { case: "send", value: { conversationId: dm, clientMessageId: `web-burst-${i}`, text: "x" } } } }).then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        ),
      ),
    );
    const webRefused = outcomes.filter((e) => e?.code === Code.ResourceExhausted && e.rawMessage.includes("send rate limit"));
    expect(webRefused.length).toBeGreaterThan(0);
    expect(webRefused[0]!.findDetails(RetryInfoSchema)[0]?.retryDelay).toBeTruthy();
    for (const c of [ann, neighbour, web]) c.close();
  });

  it("refuses typing past the per-user rate with RESOURCE_EXHAUSTED and retry_after", async () => {
    const ben = await wsAs(socketUrl, t.token("ben"), "ben-typing");
    const replies: ServerFrame[] = [];
    for (let i = 0; i < 8; i++) replies.push(await ben.call({ id: id(), frame: { case: "typing", value: { conversationId: dm, started: true } } }));
    const refused = replies.filter((f) => errorOf(f)?.code === Code.ResourceExhausted);
    expect(replies.filter((f) => f.frame.case === "ack").length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    expect(retryMs(refused[0])).toBeGreaterThan(0);
    expect(ben.closed).toBeUndefined();
    ben.close();
  });

  it("refuses a user's connection beyond the per-user bound with TOO_MANY_CONNECTIONS", async () => {
    await connectionsPerUser([socketUrl], t.token("dan"));
  }, 60_000);

  it("admits exactly the per-user bound of connections opened all at once", async () => {
    const race = await tenantWithUsers(platform.endpoints.auth!, adminCredential, ["eve"]);
    await concurrentConnections([socketUrl], race.token("eve"));
  }, 60_000);

  it("closes oversized frames clearly on every transport while a neighbour and the server are unharmed", async () => {
    const neighbour = await wsAs(socketUrl, t.token("ben"), "ben-size-neighbour");
    const big = "x".repeat(MAX_FRAME_BYTES + 1024);

    const ws = await wsAs(socketUrl, t.token("ann"), "ann-ws-big");
    ws.raw(new Uint8Array(MAX_FRAME_BYTES + 1024));
    expect((await ws.waitClosed()).code).toBe(4000 + CloseCode.FRAME_TOO_LARGE);
    const wsClosing = ws.frames.at(-1);
    expect(wsClosing?.frame.case === "closing" && wsClosing.frame.value.reason).toContain("max_frame_bytes");

    // Valid by the field rules but over max_frame_bytes: the size check is what refuses it.
    const bigSend = { conversationId: dm, clientMessageId: "big", text: "big", custom: { blob: big } };
    const grpc = grpcConnection(socketUrl, t.token("ann"), "ann-grpc-big");
    await grpc.waitFor((f) => f.frame.case === "authOk");
    grpc.send({ id: id(), frame: { case: "send", value: bigSend } });
    await grpc.waitClosed();
    const grpcClosing = grpc.frames.at(-1);
    expect(grpcClosing?.frame.case === "closing" && grpcClosing.frame.value.code).toBe(CloseCode.FRAME_TOO_LARGE);
    expect(grpcClosing?.frame.case === "closing" && grpcClosing.frame.value.reason).toContain("max_frame_bytes");

    // A frame breaking the field rules ends a gRPC request stream (protovalidate): a clear Closing, not a deaf stream.
    const invalid = grpcConnection(socketUrl, t.token("ann"), "ann-grpc-invalid");
    await invalid.waitFor((f) => f.frame.case === "authOk");
    invalid.send({ id: id(), frame: { case: "send", value: { conversationId: dm, clientMessageId: "long", text: "y".repeat(5000) } } });
    await invalid.waitClosed();
    const invalidClosing = invalid.frames.at(-1);
    expect(invalidClosing?.frame.case === "closing" && invalidClosing.frame.value.code).toBe(CloseCode.PROTOCOL_ERROR);
    expect(invalidClosing?.frame.case === "closing" && invalidClosing.frame.value.reason).toContain("text");

    const web = grpcWebConnection(socketUrl, t.token("ann"), "ann-web-big");
    await web.waitFor((f) => f.frame.case === "authOk");
    const err = await web.rpc.send({ frame: { id: id(), frame: { case: "send", value: bigSend } } }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.ResourceExhausted);
    expect(err?.rawMessage).toContain("max_frame_bytes");
    // The gRPC-web stream itself is untouched by the refused call.
    expect((await web.call({ id: id(), frame: { case: "ping", value: { nonce: 2n } } })).frame.case).toBe("pong");

    const malformed = await wsAs(socketUrl, t.token("ann"), "ann-malformed");
    malformed.raw(new Uint8Array([0x0a, 0xff, 0xff]));
    expect((await malformed.waitClosed()).code).toBe(4000 + CloseCode.PROTOCOL_ERROR);

    await stillServed(neighbour, () => chatAs("ann").sendMessage({ conversationId: dm, clientMessageId: "after-big", text: "after big frames" }), dm, "after big frames");
    const fresh = await wsAs(socketUrl, t.token("ann"), "ann-fresh");
    for (const c of [neighbour, web, fresh, grpc, invalid]) c.close();
  });
});

describe.skipIf(!cluster)("realtime limits across two socket instances (cluster)", () => {
  it("counts a user's connections on both instances against one bound", async () => {
    const c = cluster!;
    const urls = ["socket-1", "socket-2"].map((name) => c.instances.find((i) => i.instanceId === name)!.url);
    const t = await tenantWithUsers(c.endpoints.auth!, c.adminToken, ["many"]);
    await connectionsPerUser(urls, t.token("many"));
  }, 90_000);

  it("admits exactly the bound of a user's connections opened at once on both instances", async () => {
    const c = cluster!;
    const urls = ["socket-1", "socket-2"].map((name) => c.instances.find((i) => i.instanceId === name)!.url);
    const t = await tenantWithUsers(c.endpoints.auth!, c.adminToken, ["racer"]);
    await concurrentConnections(urls, t.token("racer"));
  }, 90_000);
});
