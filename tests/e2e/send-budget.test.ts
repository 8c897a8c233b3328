import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import type { ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { RealtimeService } from "@caas/gen/caas/realtime/v1/realtime_service_pb.js";
import { RetryInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { spawnEmbeddedPlatform, type SpawnedPlatform } from "../support/spawn-platform.js";
import { bearer, grpcConnection, tenantWithUsers, wsConnection } from "./realtime-clients.js";

/*
 * ADR 0023: a send is counted once, by chat, whatever path it takes (the gateway's ChatService
 * and RealtimeService/Send, the socket's WebSocket, Connect and Send). A platform of its own with
 * a budget of 5 sends per user (one more every 2 minutes, so none comes back during the test)
 * and a tenant bucket of twice that.
 */
const BUDGET = 5;
const WINDOW_MS = 10 * 60_000;

let platform: SpawnedPlatform;
let urls: Record<string, string>;
let adminCredential: string;

beforeAll(async () => {
  platform = await spawnEmbeddedPlatform({ CAAS_RATE_LIMITS: `message.send=${BUDGET}/10min`, CAAS_RATE_LIMIT_TENANT_FACTOR: "2", CAAS_INSTANCE_ID: "send-budget" });
  urls = platform.info.endpoints;
  adminCredential = readFileSync(join(platform.info.dataDir, "admin-credential"), "utf8").trim();
}, 120_000);

afterAll(async () => {
  expect(await platform?.stop()).toBe(0);
});

let nextId = 1n;
const id = () => nextId++;
const refusal = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
const retryMsOf = (e: ConnectError | undefined) => {
  const d = e?.findDetails(RetryInfoSchema)[0]?.retryDelay;
  return d ? Number(d.seconds) * 1000 + d.nanos / 1e6 : 0;
};
const frameRetryMs = (f: ServerFrame) => {
  const d = f.frame.case === "error" ? f.frame.value.retryAfter : undefined;
  return d ? Number(d.seconds) * 1000 + d.nanos / 1e6 : 0;
};

/** A refusal of chat's send bucket: RESOURCE_EXHAUSTED naming who ran out, with a RetryInfo inside the window. */
function expectSendRefused(e: ConnectError | undefined, who: "user" | "tenant") {
  expect(e?.code).toBe(Code.ResourceExhausted);
  expect(e?.rawMessage).toContain(`send rate limit reached for this ${who}`);
  expect(e?.findDetails(RetryInfoSchema)).toHaveLength(1);
  expect(retryMsOf(e)).toBeGreaterThan(0);
  expect(retryMsOf(e)).toBeLessThanOrEqual(WINDOW_MS / BUDGET);
}

/** A tenant with `users`, a group they are all in, and clients of each path. */
async function world(users: string[]) {
  const t = await tenantWithUsers(urls.auth!, adminCredential, users, "send-budget");
  const chatAt = (base: string, user: string, http1 = false) =>
    createClient(
      ChatService,
      http1 ? createConnectTransport({ baseUrl: base, httpVersion: "1.1", interceptors: [bearer(t.token(user))] }) : createGrpcTransport({ baseUrl: base, interceptors: [bearer(t.token(user))] }),
    );
  const realtimeAt = (base: string, user: string) => createClient(RealtimeService, createGrpcTransport({ baseUrl: base, interceptors: [bearer(t.token(user))] }));
  const { conversation } = await chatAt(urls.chat!, users[0]!).createConversation({ type: ConversationType.GROUP, memberIds: users.slice(1) });
  return { t, conversationId: conversation!.id, chatAt, realtimeAt };
}

describe("one send budget per user, counted once by chat on every path", () => {
  it("through the gateway: SendMessage, ForwardMessage and RealtimeService/Send share exactly the configured budget", async () => {
    const w = await world(["gina"]);
    const viaGateway = w.chatAt(urls.gateway!, "gina");
    const rtViaGateway = w.realtimeAt(urls.gateway!, "gina");
    const sendFrame = (n: number) => ({ frame: { id: id(), frame: { case: "send" as const, value: { conversationId: w.conversationId, clientMessageId: `rt-${n}`, text: `rt ${n}` } } } });
    const first = await viaGateway.sendMessage({ conversationId: w.conversationId, clientMessageId: "g-1", text: "one" });
    await viaGateway.sendMessage({ conversationId: w.conversationId, clientMessageId: "g-2", text: "two" });
    await viaGateway.forwardMessage({ conversationId: w.conversationId, messageId: first.messageId, targetConversationId: w.conversationId, clientMessageId: "g-fwd" });
    expect((await rtViaGateway.send(sendFrame(1))).frame?.frame.case).toBe("sendAck");
    expect((await rtViaGateway.send(sendFrame(2))).frame?.frame.case).toBe("sendAck");
    // Five sends: the budget is spent, on whichever path the next one comes.
    expectSendRefused(await refusal(viaGateway.sendMessage({ conversationId: w.conversationId, clientMessageId: "g-6", text: "six" })), "user");
    expectSendRefused(await refusal(w.chatAt(urls.gateway!, "gina", true).sendMessage({ conversationId: w.conversationId, clientMessageId: "g-6h1", text: "six" })), "user");
    expectSendRefused(
      await refusal(viaGateway.forwardMessage({ conversationId: w.conversationId, messageId: first.messageId, targetConversationId: w.conversationId, clientMessageId: "g-fwd2" })),
      "user",
    );
    expectSendRefused(await refusal(rtViaGateway.send(sendFrame(3))), "user");
    expectSendRefused(await refusal(w.chatAt(urls.chat!, "gina").sendMessage({ conversationId: w.conversationId, clientMessageId: "c-6", text: "six" })), "user");
    // The gateway took nothing of the user's other budgets for those sends: ordinary calls still pass.
    for (let i = 0; i < 3; i++) expect((await viaGateway.listConversations({})).conversations).toHaveLength(1);
    const history = await w.chatAt(urls.chat!, "gina").listMessages({ conversationId: w.conversationId });
    expect(history.messages).toHaveLength(BUDGET);
  });

  it("through the socket: WebSocket, Connect and the Send RPC share exactly the configured budget with the gateway's paths", async () => {
    const w = await world(["sam"]);
    const ws = await wsConnection(urls.socket!, "sam-ws");
    expect((await ws.call({ id: id(), frame: { case: "auth", value: { accessToken: w.t.token("sam") } } })).frame.case).toBe("authOk");
    // Two through the gateway first: the socket paths get the three that are left, no more.
    await w.chatAt(urls.gateway!, "sam").sendMessage({ conversationId: w.conversationId, clientMessageId: "gw-1", text: "gw 1" });
    expect(
      (await w.realtimeAt(urls.gateway!, "sam").send({ frame: { id: id(), frame: { case: "send", value: { conversationId: w.conversationId, clientMessageId: "gw-2", text: "gw 2" } } } })).frame?.frame
        .case,
    ).toBe("sendAck");
    // A burst of eight frames at once on the WebSocket (well under the in-flight bound).
    const firstId = nextId;
    nextId += 8n;
    ws.burst(
      Array.from({ length: 8 }, (_, i) => ({ id: firstId + BigInt(i), frame: { case: "send" as const, value: { conversationId: w.conversationId, clientMessageId: `ws-${i}`, text: `ws ${i}` } } })),
    );
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => ws.waitFor((f) => f.replyTo === firstId + BigInt(i), 20_000, `reply ${i}`)));
    expect(replies.filter((f) => f.frame.case === "sendAck")).toHaveLength(BUDGET - 2);
    const refused = replies.filter((f) => f.frame.case === "error");
    expect(refused).toHaveLength(8 - (BUDGET - 2));
    for (const f of refused) {
      expect(f.frame).toMatchObject({ case: "error", value: { code: Code.ResourceExhausted, message: expect.stringContaining("send rate limit reached for this user") } });
      expect(frameRetryMs(f)).toBeGreaterThan(0);
    }
    expect(ws.closed, "a refused send leaves the connection open").toBeUndefined();
    // The socket's unary Send and a Connect stream are refused the same way.
    expectSendRefused(
      await refusal(w.realtimeAt(urls.socket!, "sam").send({ frame: { id: id(), frame: { case: "send", value: { conversationId: w.conversationId, clientMessageId: "rpc-1", text: "rpc" } } } })),
      "user",
    );
    const grpc = grpcConnection(urls.socket!, w.t.token("sam"), "sam-grpc");
    await grpc.waitFor((f) => f.frame.case === "authOk");
    const viaConnect = await grpc.call({ id: id(), frame: { case: "send", value: { conversationId: w.conversationId, clientMessageId: "bidi-1", text: "bidi" } } });
    expect(viaConnect.frame).toMatchObject({ case: "error", value: { code: Code.ResourceExhausted } });
    expect(frameRetryMs(viaConnect)).toBeGreaterThan(0);
    const history = await w.chatAt(urls.chat!, "sam").listMessages({ conversationId: w.conversationId });
    expect(history.messages).toHaveLength(BUDGET);
    ws.close();
    grpc.close();
  });

  it("counts the tenant's sends once too: the user bucket times CAAS_RATE_LIMIT_TENANT_FACTOR, on every path", async () => {
    const w = await world(["ann", "ben", "cat"]);
    const send = (user: string, base: string, n: number) => w.chatAt(base, user).sendMessage({ conversationId: w.conversationId, clientMessageId: `${user}-${n}`, text: `${user} ${n}` });
    // ann through the gateway, ben straight to the socket's Send: together the tenant's 2 x 5.
    for (let i = 0; i < BUDGET; i++) await send("ann", urls.gateway!, i);
    for (let i = 0; i < BUDGET; i++) {
      const reply = await w.realtimeAt(urls.socket!, "ben").send({ frame: { id: id(), frame: { case: "send", value: { conversationId: w.conversationId, clientMessageId: `ben-${i}`, text: "b" } } } });
      expect(reply.frame?.frame.case).toBe("sendAck");
    }
    expectSendRefused(await refusal(send("cat", urls.gateway!, 0)), "tenant");
    expectSendRefused(await refusal(send("cat", urls.chat!, 1)), "tenant");
    // Another tenant is untouched.
    const other = await world(["ann"]);
    expect((await other.chatAt(urls.gateway!, "ann").sendMessage({ conversationId: other.conversationId, clientMessageId: "x", text: "x" })).seq).toBeGreaterThan(0n);
  });
});
