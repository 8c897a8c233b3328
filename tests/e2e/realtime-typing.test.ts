import { readFileSync } from "node:fs";
import { join } from "node:path";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import type { ServerFrame, Typing } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { RetryInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { bearer, grpcConnection, grpcWebConnection, tenantWithUsers, wsConnection, type RealtimeConnection } from "./realtime-clients.js";

const platform = inject("embedded");
const cluster = inject("cluster");

let nextId = 1n;
const id = () => nextId++;
const typingOf = (f: ServerFrame): Typing | undefined => (f.frame.case === "typing" ? f.frame.value : undefined);
const typingIn = (conversationId: string, started: boolean) => (f: ServerFrame) => {
  const t = typingOf(f);
  return t?.conversationId === conversationId && t.started === started;
};

/** An authenticated connection for `token` on WebSocket or gRPC bidi. */
async function connect(kind: "ws" | "grpc", baseUrl: string, token: string, label: string): Promise<RealtimeConnection> {
  const c = kind === "ws" ? await wsConnection(baseUrl, label) : grpcConnection(baseUrl, undefined, label);
  const ok = await c.call({ id: id(), frame: { case: "auth", value: { accessToken: token } } });
  expect(ok.frame.case, `${label} auth`).toBe("authOk");
  return c;
}

const setTyping = (c: RealtimeConnection, conversationId: string, started: boolean) => c.call({ id: id(), frame: { case: "typing", value: { conversationId, started } } });

/** Two groups in a fresh tenant: `room` (ann, ben) and `side` (ann, cal); dan shares nothing with them. */
async function world(authUrl: string, chatUrl: string, adminCredential: string) {
  const t = await tenantWithUsers(authUrl, adminCredential, ["ann", "ben", "cal", "dan"]);
  const chat = createClient(ChatService, createGrpcTransport({ baseUrl: chatUrl, interceptors: [bearer(t.token("ann"))] }));
  const room = (await chat.createConversation({ type: ConversationType.GROUP, memberIds: ["ben"], title: "room" })).conversation!.id;
  const side = (await chat.createConversation({ type: ConversationType.GROUP, memberIds: ["cal"], title: "side" })).conversation!.id;
  return { t, room, side };
}

describe("typing indicators (embedded platform, WebSocket and gRPC bidi)", () => {
  const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();
  const socketUrl = platform.endpoints.socket!;
  let w: Awaited<ReturnType<typeof world>>;

  beforeAll(async () => {
    w = await world(platform.endpoints.auth!, platform.endpoints.chat!, adminCredential);
  });

  it("reaches every device of the other member with an expiry, never a non-member or the typist", async () => {
    const ann = await connect("ws", socketUrl, w.t.token("ann"), "ann-ws");
    const annGrpc = await connect("grpc", socketUrl, w.t.token("ann"), "ann-grpc");
    const benWs = await connect("ws", socketUrl, w.t.token("ben"), "ben-ws");
    const benGrpc = await connect("grpc", socketUrl, w.t.token("ben"), "ben-grpc");
    const cal = await connect("ws", socketUrl, w.t.token("cal"), "cal-ws");

    const before = Date.now();
    expect((await setTyping(ann, w.room, true)).frame.case).toBe("ack");
    for (const c of [benWs, benGrpc]) {
      const typing = typingOf(await c.waitFor(typingIn(w.room, true), 5_000, "Typing started"))!;
      expect(typing.userId).toBe("ann");
      const expires = timestampMs(typing.expireTime!);
      expect(expires).toBeGreaterThan(before);
      expect(expires).toBeLessThanOrEqual(Date.now() + 10_000);
    }
    expect((await setTyping(ann, w.room, false)).frame.case).toBe("ack");
    for (const c of [benWs, benGrpc]) expect(typingOf(await c.waitFor(typingIn(w.room, false), 5_000, "Typing stopped"))?.expireTime).toBeUndefined();
    // A ping round trip after the broadcasts: anything meant for cal or ann would be queued before the pong.
    for (const c of [cal, ann, annGrpc]) {
      await c.call({ id: id(), frame: { case: "ping", value: { nonce: 1n } } });
      expect(
        c.frames.filter((f) => f.frame.case === "typing"),
        c.label,
      ).toEqual([]);
    }
    for (const c of [ann, annGrpc, benWs, benGrpc, cal]) c.close();
  });

  it("refuses typing in a conversation the user is not a member of with NOT_FOUND", async () => {
    const dan = await connect("grpc", socketUrl, w.t.token("dan"), "dan-grpc");
    const reply = await setTyping(dan, w.room, true);
    expect(reply.frame).toMatchObject({ case: "error", value: { code: Code.NotFound } });
    expect(dan.closed).toBeUndefined();
    dan.close();
  });

  it("rate-limits SetTyping per user with RESOURCE_EXHAUSTED and a retry delay, keeping the connection", async () => {
    const cal = await connect("ws", socketUrl, w.t.token("cal"), "cal-burst");
    const replies = await Promise.all(Array.from({ length: 8 }, () => setTyping(cal, w.side, true)));
    const refused = replies.filter((r) => r.frame.case === "error");
    expect(replies.filter((r) => r.frame.case === "ack").length).toBe(5);
    expect(refused.length).toBe(3);
    for (const r of refused) {
      expect(r.frame).toMatchObject({ case: "error", value: { code: Code.ResourceExhausted } });
      const err = r.frame.value as { message: string; retryAfter?: { seconds: bigint; nanos: number } };
      expect(err.message).toContain("typing rate limit");
      expect(Number(err.retryAfter!.seconds) * 1000 + err.retryAfter!.nanos / 1e6).toBeGreaterThan(0);
    }
    const pong = await cal.call({ id: id(), frame: { case: "ping", value: { nonce: 2n } } });
    expect(pong.frame.case).toBe("pong");
    cal.close();
  });
});

describe("typing through the unary Send (gRPC-web clients)", () => {
  const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();
  const socketUrl = platform.endpoints.socket!;

  it("reaches the other member, refuses a non-member with NOT_FOUND and a burst with RESOURCE_EXHAUSTED and RetryInfo", async () => {
    const w = await world(platform.endpoints.auth!, platform.endpoints.chat!, adminCredential);
    const ben = await connect("ws", socketUrl, w.t.token("ben"), "ben-ws");
    // ann has no realtime session at all: Send alone, as a browser between Subscribe reconnects.
    const ann = grpcWebConnection(socketUrl, w.t.token("ann"), "ann-web");
    const reply = await ann.rpc.send({ frame: { id: id(), frame: { case: "typing", value: { conversationId: w.room, started: true } } } });
    expect(reply.frame?.frame.case).toBe("ack");
    expect(typingOf(await ben.waitFor(typingIn(w.room, true), 5_000, "Typing via Send"))?.userId).toBe("ann");

    const dan = grpcWebConnection(socketUrl, w.t.token("dan"), "dan-web");
    const refused = await dan.rpc.send({ frame: { id: id(), frame: { case: "typing", value: { conversationId: w.room, started: true } } } }).then(
      () => expect.fail("a non-member's typing was accepted"),
      (err: unknown) => ConnectError.from(err),
    );
    expect(Code[refused.code]).toBe("NotFound");

    const burst = await Promise.allSettled(Array.from({ length: 8 }, () => ann.rpc.send({ frame: { id: id(), frame: { case: "typing", value: { conversationId: w.room, started: true } } } })));
    const errors = burst.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => ConnectError.from(r.reason));
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) {
      expect(Code[e.code]).toBe("ResourceExhausted");
      expect(Number(e.findDetails(RetryInfoSchema)[0]?.retryDelay?.seconds ?? 0n) * 1000 + (e.findDetails(RetryInfoSchema)[0]?.retryDelay?.nanos ?? 0) / 1e6).toBeGreaterThan(0);
    }
    for (const c of [ben, ann, dan]) c.close();
  });
});

describe.skipIf(!cluster)("typing across two socket instances (cluster, Redis pub/sub)", () => {
  const c = cluster!;

  it("delivers typing from socket-1 to the other member on socket-2, not to a non-member", async () => {
    const url = (instanceId: string) => c.instances.find((i) => i.instanceId === instanceId)!.url;
    const w = await world(c.endpoints.auth!, c.endpoints.chat!, c.adminToken);
    const ann = await connect("ws", url("socket-1"), w.t.token("ann"), "ann@socket-1");
    const ben = await connect("grpc", url("socket-2"), w.t.token("ben"), "ben@socket-2");
    const cal = await connect("ws", url("socket-2"), w.t.token("cal"), "cal@socket-2");
    expect((await setTyping(ann, w.room, true)).frame.case).toBe("ack");
    expect(typingOf(await ben.waitFor(typingIn(w.room, true), 10_000, "Typing across instances"))?.userId).toBe("ann");
    await cal.call({ id: id(), frame: { case: "ping", value: { nonce: 1n } } });
    expect(cal.frames.filter((f) => f.frame.case === "typing")).toEqual([]);
    // Send on socket-1 by a user with no session on that instance: membership comes from chat.
    const annWeb = grpcWebConnection(url("socket-1"), w.t.token("ann"), "ann-web@socket-1");
    ben.frames.length = 0;
    const viaSend = await annWeb.rpc.send({ frame: { id: id(), frame: { case: "typing", value: { conversationId: w.room, started: false } } } });
    expect(viaSend.frame?.frame.case).toBe("ack");
    expect(typingOf(await ben.waitFor(typingIn(w.room, false), 10_000, "Typing via Send across instances"))?.userId).toBe("ann");
    for (const x of [ann, ben, cal, annWeb]) x.close();
  });
});
