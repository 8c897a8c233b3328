import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, inject, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import type { Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import type { ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { bearer, grpcConnection, grpcWebConnection, tenantWithUsers, wsConnection, type RealtimeConnection } from "./realtime-clients.js";

const platform = inject("embedded");
const cluster = inject("cluster");

const MEMBERS = 50;
let nextId = 1n;
const id = () => nextId++;
const eventOf = (f: ServerFrame): Event | undefined => (f.frame.case === "event" ? f.frame.value : undefined);
const inConversation = (conversationId: string, pred: (e: Event) => boolean) => (f: ServerFrame) => {
  const e = eventOf(f);
  return e !== undefined && e.conversationId === conversationId && pred(e);
};
const created = (conversationId: string, text: string) => inConversation(conversationId, (e) => e.payload.case === "messageCreated" && e.payload.value.message?.text === text);

/** Where each member connects: one socket URL per member, and which transport. */
interface Placement {
  url(member: number): string;
  where(member: number): string;
}

/** Authenticated connections of all members, on WebSocket, gRPC bidi and gRPC-web in turn. */
async function connectAll(t: Awaited<ReturnType<typeof tenantWithUsers>>, users: string[], place: Placement): Promise<RealtimeConnection[]> {
  return Promise.all(
    users.map(async (user, i) => {
      const label = `${user}@${place.where(i)}`;
      const kind = i % 5 === 3 ? "grpc" : i % 5 === 4 ? "grpc-web" : "ws";
      const c =
        kind === "ws"
          ? await wsConnection(place.url(i), `${label}-ws`)
          : kind === "grpc"
            ? grpcConnection(place.url(i), t.token(user), `${label}-grpc`)
            : grpcWebConnection(place.url(i), t.token(user), `${label}-web`);
      if (kind === "ws") {
        const ok = await c.call({ id: id(), frame: { case: "auth", value: { accessToken: t.token(user) } } });
        expect(ok.frame.case, label).toBe("authOk");
      } else {
        await c.waitFor((f) => f.frame.case === "authOk", 20_000, "AuthOk");
      }
      return c;
    }),
  );
}

/**
 * One send reaches every member's connection exactly once; edits, deletes and reactions arrive
 * live at every member. `authUrl`/`chatUrl` serve the tenant; `place` spreads the members.
 */
async function fiftyMemberGroup(authUrl: string, chatUrl: string, adminCredential: string, place: Placement, waitMs: number) {
  const users = Array.from({ length: MEMBERS }, (_, i) => `m${String(i).padStart(2, "0")}`);
  const t = await tenantWithUsers(authUrl, adminCredential, users);
  const chatAs = (user: string) => createClient(ChatService, createGrpcTransport({ baseUrl: chatUrl, interceptors: [bearer(t.token(user))] }));
  const owner = users[0]!;
  const { conversation } = await chatAs(owner).createConversation({ type: ConversationType.GROUP, memberIds: users.slice(1), title: "fifty" });
  const group = conversation!.id;
  expect(conversation!.memberCount).toBe(MEMBERS);

  const conns = await connectAll(t, users, place);
  try {
    // One send over the owner's realtime connection.
    const sender = conns[0]!;
    const sent = await sender.call({ id: id(), frame: { case: "send", value: { conversationId: group, clientMessageId: "hello-50", text: "hello fifty" } } });
    expect(sent.frame.case).toBe("sendAck");
    const seq = sent.frame.case === "sendAck" ? sent.frame.value.seq : 0n;
    const messageId = sent.frame.case === "sendAck" ? sent.frame.value.messageId : "";
    await Promise.all(conns.map((c) => c.waitFor(created(group, "hello fifty"), waitMs, "the group message")));

    // Edit, reaction and delete (by the owner, through chat) arrive live everywhere, in log order.
    const chat = chatAs(owner);
    await chat.editMessage({ conversationId: group, messageId, text: "hello fifty (edited)" });
    await chatAs(users[7]!).addReaction({ conversationId: group, messageId, reaction: ":wave:" });
    await chat.deleteMessage({ conversationId: group, messageId });
    // A last message is the barrier: once it is in, anything before it has arrived too.
    await chatAs(users[1]!).sendMessage({ conversationId: group, clientMessageId: "barrier", text: "barrier" });
    await Promise.all(conns.map((c) => c.waitFor(created(group, "barrier"), waitMs, "the barrier message")));

    for (const c of conns) {
      const kinds = c.frames.flatMap((f) => {
        const e = eventOf(f);
        return e && e.conversationId === group && e.seq >= seq ? [e.payload.case] : [];
      });
      expect(kinds, c.label).toEqual(["messageCreated", "messageEdited", "reactionAdded", "messageDeleted", "messageCreated"]);
      const original = c.frames.filter(created(group, "hello fifty"));
      expect(original, `${c.label} got the message exactly once`).toHaveLength(1);
      expect(eventOf(original[0]!)!.seq).toBe(seq);
      const edited = c.frames.map(eventOf).find((e) => e?.payload.case === "messageEdited");
      expect(edited?.payload.case === "messageEdited" && edited.payload.value).toMatchObject({ messageId, text: "hello fifty (edited)" });
      const reaction = c.frames.map(eventOf).find((e) => e?.payload.case === "reactionAdded");
      expect(reaction?.payload.case === "reactionAdded" && reaction.payload.value).toMatchObject({ messageId, reaction: ":wave:" });
      expect(reaction?.actorId).toBe(users[7]);
    }
  } finally {
    for (const c of conns) c.close();
  }
}

describe("a 50-member group on the embedded platform (WebSocket, gRPC bidi, gRPC-web)", () => {
  it("delivers one send to all 50 members exactly once; edits, reactions and deletes arrive live", async () => {
    const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();
    const url = platform.endpoints.socket!;
    await fiftyMemberGroup(platform.endpoints.auth!, platform.endpoints.chat!, adminCredential, { url: () => url, where: () => "embedded" }, 15_000);
  }, 120_000);
});

describe.skipIf(!cluster)("a 50-member group across two socket instances (cluster, Kafka fan-out)", () => {
  it("delivers one send to all 50 members on both instances exactly once; edits, reactions and deletes arrive live", async () => {
    const c = cluster!;
    const sockets = ["socket-1", "socket-2"].map((name) => c.instances.find((i) => i.instanceId === name)!.url);
    await fiftyMemberGroup(c.endpoints.auth!, c.endpoints.chat!, c.adminToken, { url: (i) => sockets[i % 2]!, where: (i) => `socket-${(i % 2) + 1}` }, 30_000);
  }, 180_000);
});
