import { readFileSync } from "node:fs";
import { join } from "node:path";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, inject, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { PresenceStatus, type Presence, type ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { bearer, grpcConnection, grpcWebConnection, tenantWithUsers, wsConnection, type RealtimeConnection } from "./realtime-clients.js";

const platform = inject("embedded");
const cluster = inject("cluster");

let nextId = 1n;
const id = () => nextId++;
const presenceOf = (f: ServerFrame): Presence | undefined => (f.frame.case === "presence" ? f.frame.value : undefined);
const presencesOf = (c: RealtimeConnection, userId: string) => c.frames.map(presenceOf).filter((p): p is Presence => p?.userId === userId);

/** An authenticated connection for `token` on WebSocket or gRPC bidi. */
async function connect(kind: "ws" | "grpc", baseUrl: string, token: string, label: string): Promise<RealtimeConnection> {
  const c = kind === "ws" ? await wsConnection(baseUrl, label) : grpcConnection(baseUrl, undefined, label);
  const ok = await c.call({ id: id(), frame: { case: "auth", value: { accessToken: token } } });
  expect(ok.frame.case, `${label} auth`).toBe("authOk");
  return c;
}

/** Waits for the `n`th Presence frame about `userId` on `c`. */
async function nthPresence(c: RealtimeConnection, userId: string, n: number): Promise<Presence> {
  await c.waitFor(() => presencesOf(c, userId).length >= n, 5_000, `presence #${n} of ${userId}`);
  return presencesOf(c, userId)[n - 1]!;
}

/** A tenant where pia and quinn share a group and rex shares nothing with either. */
async function world(authUrl: string, chatUrl: string, adminCredential: string) {
  const t = await tenantWithUsers(authUrl, adminCredential, ["pia", "quinn", "rex"]);
  const chat = createClient(ChatService, createGrpcTransport({ baseUrl: chatUrl, interceptors: [bearer(t.token("pia"))] }));
  await chat.createConversation({ type: ConversationType.GROUP, memberIds: ["quinn"], title: "presence" });
  return t;
}

/** pia's two devices on `urls`, watched by quinn on `watchUrl`: online while either is connected, then offline with last seen. */
async function twoDevices(t: Awaited<ReturnType<typeof world>>, urls: [string, string], watchUrl: string) {
  const quinn = await connect("ws", watchUrl, t.token("quinn"), "quinn-ws");
  const ack = await quinn.call({ id: id(), frame: { case: "subscribePresence", value: { userIds: ["pia", "rex"] } } });
  expect(ack.frame.case).toBe("ack");
  const never = await nthPresence(quinn, "pia", 1);
  expect(never.status).toBe(PresenceStatus.OFFLINE);
  expect(never.lastSeenTime, "never seen: no last seen").toBeUndefined();

  const phone = await connect("ws", urls[0], t.token("pia"), "pia-phone-ws");
  expect((await nthPresence(quinn, "pia", 2)).status).toBe(PresenceStatus.ONLINE);
  const laptop = await connect("grpc", urls[1], t.token("pia"), "pia-laptop-grpc");
  phone.close();
  await phone.waitClosed();
  // Still online through the laptop: a round trip later, nothing new about pia arrived.
  await new Promise((r) => setTimeout(r, 300));
  await quinn.call({ id: id(), frame: { case: "ping", value: { nonce: 1n } } });
  expect(presencesOf(quinn, "pia").map((p) => p.status)).toEqual([PresenceStatus.OFFLINE, PresenceStatus.ONLINE]);

  const left = Date.now();
  laptop.close();
  const offline = await nthPresence(quinn, "pia", 3);
  expect(offline.status).toBe(PresenceStatus.OFFLINE);
  expect(Math.abs(timestampMs(offline.lastSeenTime!) - left)).toBeLessThan(2_000);
  // rex shares no conversation with quinn: never reported.
  expect(presencesOf(quinn, "rex")).toEqual([]);
  quinn.close();
}

describe("presence (embedded platform, WebSocket and gRPC bidi)", () => {
  const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();
  const socketUrl = platform.endpoints.socket!;

  it("aggregates two devices of one user: online while either is connected, offline with last seen after both leave", async () => {
    const t = await world(platform.endpoints.auth!, platform.endpoints.chat!, adminCredential);
    await twoDevices(t, [socketUrl, socketUrl], socketUrl);
  });

  it("shows nothing to a user who shares no conversation", async () => {
    const t = await world(platform.endpoints.auth!, platform.endpoints.chat!, adminCredential);
    const pia = await connect("ws", socketUrl, t.token("pia"), "pia-ws");
    const rex = await connect("grpc", socketUrl, t.token("rex"), "rex-grpc");
    const ack = await rex.call({ id: id(), frame: { case: "subscribePresence", value: { userIds: ["pia", "rex"] } } });
    expect(ack.frame.case).toBe("ack");
    await nthPresence(rex, "rex", 1);
    pia.close();
    await pia.waitClosed();
    await new Promise((r) => setTimeout(r, 300));
    await rex.call({ id: id(), frame: { case: "ping", value: { nonce: 1n } } });
    expect(presencesOf(rex, "pia")).toEqual([]);
    expect(presencesOf(rex, "rex").map((p) => p.status)).toEqual([PresenceStatus.ONLINE]);
    rex.close();
  });

  it("follows through the unary Send on a gRPC-web Subscribe stream (connection_id), with updates pushed on that stream", async () => {
    const t = await world(platform.endpoints.auth!, platform.endpoints.chat!, adminCredential);
    const quinn = grpcWebConnection(socketUrl, t.token("quinn"), "quinn-web");
    await quinn.waitFor((f) => f.frame.case === "authOk", 10_000, "AuthOk");
    const ack = await quinn.call({ id: id(), frame: { case: "subscribePresence", value: { userIds: ["pia", "rex"] } } });
    expect(ack.frame.case).toBe("ack");
    expect((await nthPresence(quinn, "pia", 1)).status).toBe(PresenceStatus.OFFLINE);
    const pia = await connect("ws", socketUrl, t.token("pia"), "pia-ws");
    expect((await nthPresence(quinn, "pia", 2)).status).toBe(PresenceStatus.ONLINE);
    expect(presencesOf(quinn, "rex")).toEqual([]);
    for (const c of [pia, quinn]) c.close();
  });
});

describe.skipIf(!cluster)("presence across two socket instances (cluster, Redis)", () => {
  const c = cluster!;

  it("aggregates a user's devices on socket-1 and socket-2 for a follower on socket-2", async () => {
    const url = (instanceId: string) => c.instances.find((i) => i.instanceId === instanceId)!.url;
    const t = await world(c.endpoints.auth!, c.endpoints.chat!, c.adminToken);
    await twoDevices(t, [url("socket-1"), url("socket-2")], url("socket-2"));
  });
});
