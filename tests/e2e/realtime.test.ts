import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import type { Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import { CloseCode, type ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { bearer, grpcConnection, grpcWebConnection, tenantWithUsers, wsConnection, type RealtimeConnection } from "./realtime-clients.js";

const platform = inject("embedded");
const cluster = inject("cluster");

let nextId = 1n;
const id = () => nextId++;
/** Every seq of `conversationId` a connection received, from changes frames and live events. */
const seqsOf = (frames: ServerFrame[], conversationId: string): bigint[] =>
  frames.flatMap((f) =>
    f.frame.case === "changes" && f.frame.value.conversationId === conversationId
      ? f.frame.value.events.map((e) => e.seq)
      : f.frame.case === "event" && f.frame.value.conversationId === conversationId
        ? [f.frame.value.seq]
        : [],
  );
const isAuthOk = (f: ServerFrame) => f.frame.case === "authOk";
const eventOf = (f: ServerFrame): Event | undefined => (f.frame.case === "event" ? f.frame.value : undefined);
const messageEvent = (conversationId: string, text: string) => (f: ServerFrame) => {
  const e = eventOf(f);
  return e?.conversationId === conversationId && e.payload.case === "messageCreated" && e.payload.value.message?.text === text;
};

/** An authenticated WebSocket connection for `token`. */
async function wsAs(baseUrl: string, token: string, label: string): Promise<RealtimeConnection & { raw(b: Uint8Array | string): void }> {
  const c = await wsConnection(baseUrl, label);
  const ok = await c.call({ id: id(), frame: { case: "auth", value: { accessToken: token } } });
  expect(ok.frame.case, `${label} auth`).toBe("authOk");
  return c;
}

/** Sends a message over a realtime connection; returns the SendAck. */
async function sendOver(c: RealtimeConnection, conversationId: string, text: string) {
  const reply = await c.call({ id: id(), frame: { case: "send", value: { conversationId, clientMessageId: `${c.label}-${text}`.replace(/[^!-~]/g, "_"), text } } });
  if (reply.frame.case !== "sendAck") throw new Error(`${c.label}: expected sendAck, got ${JSON.stringify(reply.frame.value)}`);
  return reply.frame.value;
}

describe("realtime on the embedded platform: WebSocket, gRPC bidi and gRPC-web", () => {
  const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();
  const socketUrl = platform.endpoints.socket!;
  const chatUrl = platform.endpoints.chat!;
  let t: Awaited<ReturnType<typeof tenantWithUsers>>;
  const chatAs = (user: string) => createClient(ChatService, createGrpcTransport({ baseUrl: chatUrl, interceptors: [bearer(t.token(user))] }));

  beforeAll(async () => {
    t = await tenantWithUsers(platform.endpoints.auth!, adminCredential, ["alice", "bob", "carol", "dave"]);
  });

  it("delivers a DM live on every transport, each ack's seq equal to the event's seq", async () => {
    const { conversation } = await chatAs("alice").createConversation({ type: ConversationType.DIRECT, memberIds: ["bob"] });
    const dm = conversation!.id;
    const aliceWs = await wsAs(socketUrl, t.token("alice"), "alice-ws");
    const aliceGrpc = grpcConnection(socketUrl, t.token("alice"), "alice-grpc");
    const aliceWeb = grpcWebConnection(socketUrl, t.token("alice"), "alice-web");
    const bobWs = await wsAs(socketUrl, t.token("bob"), "bob-ws");
    const bobGrpc = grpcConnection(socketUrl, undefined, "bob-grpc");
    expect((await bobGrpc.call({ id: id(), frame: { case: "auth", value: { accessToken: t.token("bob") } } })).frame.case).toBe("authOk");
    const bobWeb = grpcWebConnection(socketUrl, t.token("bob"), "bob-web");
    for (const c of [aliceGrpc, aliceWeb, bobWeb]) await c.waitFor(isAuthOk, 10_000, "AuthOk");
    const authOk = (await bobWeb.waitFor(isAuthOk)).frame.value as { connectionId: string; userId: string };
    expect(authOk.userId).toBe("bob");
    expect(authOk.connectionId).not.toBe("");

    for (const sender of [aliceWs, aliceGrpc, aliceWeb]) {
      const text = `hi bob via ${sender.label}`;
      const ack = await sendOver(sender, dm, text);
      for (const receiver of [bobWs, bobGrpc, bobWeb]) {
        const event = eventOf(await receiver.waitFor(messageEvent(dm, text), 10_000, `${text} on ${receiver.label}`))!;
        expect(event.seq, `${text} on ${receiver.label}`).toBe(ack.seq);
        expect(event.payload.case === "messageCreated" && event.payload.value.message?.id).toBe(ack.messageId);
      }
      // The sender's own other devices see it too.
      await aliceWs.waitFor(messageEvent(dm, text));
    }
    for (const c of [aliceWs, aliceGrpc, aliceWeb, bobWs, bobGrpc, bobWeb]) c.close();
  });

  it("delivers a conversation created after connecting, without reconnecting", async () => {
    const carol = await wsAs(socketUrl, t.token("carol"), "carol-ws");
    const { conversation } = await chatAs("alice").createConversation({ type: ConversationType.GROUP, memberIds: ["carol"], title: "late" });
    const group = conversation!.id;
    await carol.waitFor((f) => eventOf(f)?.conversationId === group && eventOf(f)?.payload.case === "conversationCreated");
    const ack = await chatAs("alice").sendMessage({ conversationId: group, clientMessageId: "late-1", text: "welcome" });
    expect(eventOf(await carol.waitFor(messageEvent(group, "welcome")))!.seq).toBe(ack.seq);
    carol.close();
  });

  it("resumes from a cursor with the missed messages, no gap and no duplicate, then live", async () => {
    const { conversation } = await chatAs("alice").createConversation({ type: ConversationType.GROUP, memberIds: ["dave"], title: "resume" });
    const room = conversation!.id;
    await chatAs("alice").sendMessage({ conversationId: room, clientMessageId: "before", text: "before" });
    const first = await wsAs(socketUrl, t.token("dave"), "dave-1");
    const done = await first.call({ id: id(), frame: { case: "resume", value: { cursor: "" } } });
    expect(done.frame.case).toBe("resumeDone");
    const cursor = (done.frame.value as { cursor: string }).cursor;
    first.close();
    await first.waitClosed();

    const missed: bigint[] = [];
    for (let i = 0; i < 3; i++) missed.push((await chatAs("alice").sendMessage({ conversationId: room, clientMessageId: `away-${i}`, text: `away ${i}` })).seq);

    const again = await wsAs(socketUrl, t.token("dave"), "dave-2");
    const resumeId = id();
    again.send({ id: resumeId, frame: { case: "resume", value: { cursor } } });
    const resumed = await again.waitFor((f) => f.replyTo === resumeId);
    expect(resumed.frame.case).toBe("resumeDone");
    const replayed = again.frames
      .filter((f) => f.frame.case === "changes" && f.frame.value.conversationId === room)
      .flatMap((f) => (f.frame.case === "changes" ? f.frame.value.events : []))
      .filter((e) => e.payload.case === "messageCreated")
      .map((e) => e.seq);
    // DESIGN: a catch-up may repeat events the client already had (chat's cursor overlaps in
    // time), never skip one; the client drops seqs it has. It had everything up to `had`.
    const had = seqsOf(first.frames, room);
    expect(new Set(replayed).size).toBe(replayed.length);
    expect(replayed.filter((s) => s > had.at(-1)!)).toEqual(missed);
    expect(replayed.filter((s) => s <= had.at(-1)!).every((s) => had.includes(s))).toBe(true);
    const live = await chatAs("alice").sendMessage({ conversationId: room, clientMessageId: "back", text: "back" });
    expect(live.seq).toBe(missed[2]! + 1n);
    expect(eventOf(await again.waitFor(messageEvent(room, "back")))!.seq).toBe(live.seq);
    const liveSeqs = again.frames
      .map(eventOf)
      .filter((e): e is Event => e?.conversationId === room)
      .map((e) => e.seq);
    expect(liveSeqs).toEqual([live.seq]);
    const all = seqsOf(again.frames, room);
    expect(new Set(all).size).toBe(all.length);
    again.close();
  });

  it("stops delivering to a removed member after the removal's seq", async () => {
    const alice = chatAs("alice");
    const { conversation } = await alice.createConversation({ type: ConversationType.GROUP, memberIds: ["bob", "carol"], title: "removal" });
    const group = conversation!.id;
    const bob = await wsAs(socketUrl, t.token("bob"), "bob-ws");
    const carol = grpcConnection(socketUrl, t.token("carol"), "carol-grpc");
    await carol.waitFor(isAuthOk);
    await alice.sendMessage({ conversationId: group, clientMessageId: "m1", text: "m1" });
    await bob.waitFor(messageEvent(group, "m1"));
    await alice.removeMember({ conversationId: group, userId: "bob" });
    const removal = eventOf(await bob.waitFor((f) => eventOf(f)?.conversationId === group && eventOf(f)?.payload.case === "memberRemoved"))!;
    await alice.sendMessage({ conversationId: group, clientMessageId: "m2", text: "m2" });
    await carol.waitFor(messageEvent(group, "m2"));
    await bob.call({ id: id(), frame: { case: "ping", value: { nonce: 7n } } });
    const after = bob.frames.map(eventOf).filter((e): e is Event => e?.conversationId === group && e.seq > removal.seq);
    expect(after).toEqual([]);
    // Sending there now is refused, and the connection stays open.
    const refused = await bob.call({ id: id(), frame: { case: "send", value: { conversationId: group, clientMessageId: "m3", text: "m3" } } });
    expect(refused.frame.case).toBe("error");
    expect(bob.closed).toBeUndefined();
    bob.close();
    carol.close();
  });

  it("gives bad frames clear errors and close codes while a neighbour keeps working", async () => {
    const { conversation } = await chatAs("alice").createConversation({ type: ConversationType.DIRECT, memberIds: ["carol"] });
    const dm = conversation!.id;
    const neighbour = await wsAs(socketUrl, t.token("carol"), "neighbour");

    const malformed = await wsConnection(socketUrl, "malformed");
    malformed.raw(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]));
    expect((await malformed.waitClosed()).code).toBe(4000 + CloseCode.PROTOCOL_ERROR);
    expect(malformed.frames.at(-1)?.frame.case).toBe("closing");

    const text = await wsAs(socketUrl, t.token("alice"), "text");
    text.raw("hello");
    expect((await text.waitClosed()).code).toBe(4000 + CloseCode.PROTOCOL_ERROR);

    const oversized = await wsAs(socketUrl, t.token("alice"), "oversized");
    oversized.raw(new Uint8Array(1024 * 1024));
    expect((await oversized.waitClosed()).code).toBe(1009);

    const early = await wsConnection(socketUrl, "early");
    early.send({ id: 5n, frame: { case: "ping", value: { nonce: 1n } } });
    expect((await early.waitClosed()).code).toBe(4000 + CloseCode.PROTOCOL_ERROR);
    expect(early.frames.map((f) => f.frame.case)).toEqual(["error", "closing"]);

    const badToken = await wsConnection(socketUrl, "bad-token");
    const refused = await badToken.call({ id: 9n, frame: { case: "auth", value: { accessToken: "not.a.jwt" } } });
    expect(refused.frame.case === "error" && refused.frame.value.code).toBe(Code.Unauthenticated);
    expect((await badToken.waitClosed()).code).toBe(4000 + CloseCode.AUTH_FAILED);

    const web = grpcWebConnection(socketUrl, "garbage.token.value", "bad-web");
    expect((await web.waitClosed()).code).toBe(Code.Unauthenticated);

    const marked = await neighbour.call({ id: id(), frame: { case: "markRead", value: { conversationId: dm, seq: 1n } } });
    expect(marked.frame.case === "readState" && marked.frame.value.conversationId).toBe(dm);
    const invalid = await neighbour.call({ id: id(), frame: { case: "send", value: { conversationId: "nope", clientMessageId: "x", text: "x" } } });
    expect(invalid.frame.case === "error" && invalid.frame.value.code).toBe(Code.InvalidArgument);

    const pong = await neighbour.call({ id: id(), frame: { case: "ping", value: { nonce: 42n } } });
    expect(pong.frame.case === "pong" && pong.frame.value.nonce).toBe(42n);
    const ack = await chatAs("alice").sendMessage({ conversationId: dm, clientMessageId: "still-here", text: "still here" });
    expect(eventOf(await neighbour.waitFor(messageEvent(dm, "still here")))!.seq).toBe(ack.seq);
    expect(neighbour.closed).toBeUndefined();
    neighbour.close();
  });

  it("answers Send with gRPC errors: auth frames, unknown connection ids, stage-B frames", async () => {
    const web = grpcWebConnection(socketUrl, t.token("alice"), "alice-web");
    await web.waitFor(isAuthOk);
    const fail = (p: Promise<unknown>) =>
      p.then(
        () => expect.fail("succeeded"),
        (e: unknown) => ConnectError.from(e).code,
      );
    expect(await fail(web.rpc.send({ frame: { id: 1n, frame: { case: "auth", value: { accessToken: "x" } } } }))).toBe(Code.InvalidArgument);
    expect(await fail(web.rpc.send({ connectionId: "nope", frame: { id: 2n, frame: { case: "resume", value: {} } } }))).toBe(Code.NotFound);
    // subscribe_presence pushes on a Subscribe stream: without one of the caller's, NOT_FOUND.
    expect(await fail(web.rpc.send({ frame: { id: 3n, frame: { case: "subscribePresence", value: {} } } }))).toBe(Code.NotFound);
    const pong = await web.rpc.send({ frame: { id: 4n, frame: { case: "ping", value: { nonce: 3n } } } });
    expect(pong.frame?.frame.case).toBe("pong");
    const resumed = await web.call({ id: 5n, frame: { case: "resume", value: { cursor: "" } } });
    expect(resumed.frame.case).toBe("ack");
    await web.waitFor((f) => f.replyTo === 5n && f.frame.case === "resumeDone");
    web.close();
  });
});

describe.skipIf(!cluster)("realtime across two socket instances (cluster, Kafka fan-out)", () => {
  const c = cluster!;

  it("delivers a DM sent on socket-1 to a receiver on socket-2", async () => {
    const url = (instanceId: string) => c.instances.find((i) => i.instanceId === instanceId)!.url;
    const t = await tenantWithUsers(c.endpoints.auth!, c.adminToken, ["ann", "ben"]);
    const chat = createClient(ChatService, createGrpcTransport({ baseUrl: c.endpoints.chat!, interceptors: [bearer(t.token("ann"))] }));
    const { conversation } = await chat.createConversation({ type: ConversationType.DIRECT, memberIds: ["ben"] });
    const dm = conversation!.id;
    const ann = await wsAs(url("socket-1"), t.token("ann"), "ann@socket-1");
    const ben = await wsAs(url("socket-2"), t.token("ben"), "ben@socket-2");
    const benGrpc = grpcConnection(url("socket-2"), t.token("ben"), "ben-grpc@socket-2");
    await benGrpc.waitFor(isAuthOk);
    const ack = await sendOver(ann, dm, "across instances");
    expect(eventOf(await ben.waitFor(messageEvent(dm, "across instances"), 20_000))!.seq).toBe(ack.seq);
    expect(eventOf(await benGrpc.waitFor(messageEvent(dm, "across instances"), 20_000))!.seq).toBe(ack.seq);
    for (const x of [ann, ben, benGrpc]) x.close();
  });
});
