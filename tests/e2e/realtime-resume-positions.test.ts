import { readFileSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { describe, expect, inject, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import type { ConversationChanges } from "@caas/gen/caas/chat/v1/changes_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import type { ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { RealtimeService } from "@caas/gen/caas/realtime/v1/realtime_service_pb.js";
import { bearer, grpcConnection, tenantWithUsers, wsConnection, type RealtimeConnection } from "./realtime-clients.js";

const platform = inject("embedded");
const cluster = inject("cluster");

let nextId = 1n;
const id = () => nextId++;

type Position = { conversationId: string; seq: bigint };
interface Where {
  auth: string;
  chat: string;
  admin: string;
  /** The socket instance the first connection uses, and the one the resume goes to. */
  first: string;
  second: string;
}

/** The seqs of `conversationId` in changes frames (or GetChanges conversations). */
const seqsIn = (changes: ConversationChanges[], conversationId: string): bigint[] => changes.filter((c) => c.conversationId === conversationId).flatMap((c) => c.events.map((e) => e.seq));
const changesOf = (frames: ServerFrame[]): ConversationChanges[] => frames.flatMap((f) => (f.frame.case === "changes" ? [f.frame.value] : []));
const range = (from: bigint, to: bigint): bigint[] => Array.from({ length: Number(to - from + 1n) }, (_, i) => from + BigInt(i));

/** Resume on a bidi connection (WebSocket or gRPC Connect): the catch-up's changes and the reply. */
async function resumeOver(c: RealtimeConnection, cursor: string, positions: Position[]): Promise<{ changes: ConversationChanges[]; reply: ServerFrame }> {
  const before = c.frames.length;
  const reply = await c.call({ id: id(), frame: { case: "resume", value: { cursor, positions } } });
  return { changes: changesOf(c.frames.slice(before)), reply };
}

/** A gRPC-web Subscribe stream that starts with a Resume: its catch-up up to ResumeDone. */
async function subscribeResume(socketUrl: string, token: string, cursor: string, positions: Position[]): Promise<ConversationChanges[]> {
  const rpc = createClient(RealtimeService, createGrpcWebTransport({ baseUrl: socketUrl, httpVersion: "1.1", interceptors: [bearer(token)] }));
  const abort = new AbortController();
  const changes: ConversationChanges[] = [];
  try {
    for await (const r of rpc.subscribe({ resume: { cursor, positions } }, { signal: abort.signal, timeoutMs: 10_000 })) {
      if (r.frame?.frame.case === "changes") changes.push(r.frame.frame.value);
      if (r.frame?.frame.case === "resumeDone") break;
      if (r.frame?.frame.case === "error") throw new Error(r.frame.frame.value.message);
    }
  } finally {
    abort.abort();
  }
  return changes;
}

/**
 * A client that held `room` up to seq `had` resumes from a cursor older than that (the case of a
 * sparse checkpoint: chat's cursor overlaps by seconds, so without positions the catch-up repeats
 * what the client holds) and receives exactly the events after its position on every transport.
 */
async function exactResume(w: Where): Promise<void> {
  const t = await tenantWithUsers(w.auth, w.admin, ["alice", "dave"]);
  const chatAs = (user: string) => createClient(ChatService, createGrpcTransport({ baseUrl: w.chat, interceptors: [bearer(t.token(user))] }));
  const { conversation } = await chatAs("alice").createConversation({ type: ConversationType.GROUP, memberIds: ["dave"], title: "positions" });
  const room = conversation!.id;
  for (let i = 0; i < 3; i++) await chatAs("alice").sendMessage({ conversationId: room, clientMessageId: `old-${i}`, text: `old ${i}` });
  const first = await wsConnection(w.first, "dave-first");
  expect((await first.call({ id: id(), frame: { case: "auth", value: { accessToken: t.token("dave") } } })).frame.case).toBe("authOk");
  const start = await resumeOver(first, "", []);
  expect(start.reply.frame.case).toBe("resumeDone");
  const cursor = (start.reply.frame.value as { cursor: string }).cursor;
  for (let i = 0; i < 4; i++) await chatAs("alice").sendMessage({ conversationId: room, clientMessageId: `new-${i}`, text: `new ${i}` });
  const head = (await chatAs("dave").getConversation({ conversationId: room })).conversation!.lastSeq;
  const had = head - 2n;
  first.close();

  // Without positions the cursor repeats what the client holds (the measure of the fix).
  const plain = await chatAs("dave").getChanges({ cursor });
  expect(seqsIn(plain.conversations, room).some((s) => s <= had)).toBe(true);

  const positions = [{ conversationId: room, seq: had }];
  const want = range(had + 1n, head);
  const ws = await wsConnection(w.second, "dave-ws");
  expect((await ws.call({ id: id(), frame: { case: "auth", value: { accessToken: t.token("dave") } } })).frame.case).toBe("authOk");
  const overWs = await resumeOver(ws, cursor, positions);
  expect(overWs.reply.frame.case).toBe("resumeDone");
  expect(seqsIn(overWs.changes, room), "WebSocket").toEqual(want);
  ws.close();

  const bidi = grpcConnection(w.second, t.token("dave"), "dave-grpc");
  await bidi.waitFor((f) => f.frame.case === "authOk");
  const overGrpc = await resumeOver(bidi, cursor, positions);
  expect(overGrpc.reply.frame.case).toBe("resumeDone");
  expect(seqsIn(overGrpc.changes, room), "gRPC bidi").toEqual(want);
  bidi.close();

  expect(seqsIn(await subscribeResume(w.second, t.token("dave"), cursor, positions), room), "gRPC-web Subscribe").toEqual(want);
  expect(seqsIn((await chatAs("dave").getChanges({ cursor, positions })).conversations, room), "GetChanges").toEqual(want);
  // A position at the head: the conversation comes with no events at all.
  expect(seqsIn((await chatAs("dave").getChanges({ cursor, positions: [{ conversationId: room, seq: head }] })).conversations, room)).toEqual([]);
}

/**
 * Positions the caller may not use change nothing: another tenant's conversation, one the caller
 * is not a member of, an unknown id and a seq beyond the head answer exactly as without them; more
 * than 500 entries are refused with INVALID_ARGUMENT on GetChanges and on a realtime Resume.
 */
async function badPositions(w: Where): Promise<void> {
  const t = await tenantWithUsers(w.auth, w.admin, ["alice", "bob", "dave"]);
  const other = await tenantWithUsers(w.auth, w.admin, ["erin", "fay"]);
  const chatAs = (token: string) => createClient(ChatService, createGrpcTransport({ baseUrl: w.chat, interceptors: [bearer(token)] }));
  const mine = (await chatAs(t.token("alice")).createConversation({ type: ConversationType.GROUP, memberIds: ["dave"], title: "mine" })).conversation!.id;
  const notMine = (await chatAs(t.token("alice")).createConversation({ type: ConversationType.GROUP, memberIds: ["bob"], title: "not dave's" })).conversation!.id;
  const foreign = (await chatAs(other.token("erin")).createConversation({ type: ConversationType.GROUP, memberIds: ["fay"], title: "other tenant" })).conversation!.id;
  for (const room of [mine, notMine]) await chatAs(t.token("alice")).sendMessage({ conversationId: room, clientMessageId: `m-${room}`, text: "m" });
  await chatAs(other.token("erin")).sendMessage({ conversationId: foreign, clientMessageId: "f", text: "f" });
  const dave = chatAs(t.token("dave"));
  const summary = (r: { conversations: ConversationChanges[] }) =>
    r.conversations.map((c) => ({ id: c.conversationId, seqs: c.events.map((e) => e.seq), limited: c.limited })).sort((a, b) => a.id.localeCompare(b.id));
  const baseline = summary(await dave.getChanges({}));
  expect(baseline.map((c) => c.id)).toEqual([mine]);
  const ignored: Position[] = [
    { conversationId: foreign, seq: 1n },
    { conversationId: notMine, seq: 1n },
    { conversationId: randomUUID(), seq: 1n },
    { conversationId: mine, seq: 1_000_000n },
  ];
  expect(summary(await dave.getChanges({ positions: ignored }))).toEqual(baseline);
  const ws = await wsConnection(w.first, "dave-bad");
  expect((await ws.call({ id: id(), frame: { case: "auth", value: { accessToken: t.token("dave") } } })).frame.case).toBe("authOk");
  const overWs = await resumeOver(ws, "", ignored);
  expect(overWs.reply.frame.case).toBe("resumeDone");
  expect(summary({ conversations: overWs.changes })).toEqual(baseline);

  const tooMany = Array.from({ length: 501 }, () => ({ conversationId: randomUUID(), seq: 1n }));
  const refused = await dave.getChanges({ positions: tooMany }).catch((err: unknown) => ConnectError.from(err));
  expect(refused instanceof ConnectError && refused.code).toBe(Code.InvalidArgument);
  const overLimit = await resumeOver(ws, "", tooMany);
  expect(overLimit.reply.frame.case).toBe("error");
  expect(overLimit.reply.frame.case === "error" && overLimit.reply.frame.value.code).toBe(Code.InvalidArgument);
  ws.close();
}

describe("resume from exact positions on the embedded platform", () => {
  const where = (): Where => ({
    auth: platform.endpoints.auth!,
    chat: platform.endpoints.chat!,
    admin: readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim(),
    first: platform.endpoints.socket!,
    second: platform.endpoints.socket!,
  });
  it("sends exactly the events after each position: no duplicate, none missing, on WebSocket, gRPC bidi, gRPC-web Subscribe and GetChanges", async () => {
    await exactResume(where());
  }, 60_000);
  it("ignores positions the caller may not use and refuses more than 500", async () => {
    await badPositions(where());
  }, 60_000);
});

describe.skipIf(!cluster)("resume from exact positions on another socket instance (cluster)", () => {
  it("sends exactly the events after each position when the resume reaches the other instance", async () => {
    const c = cluster!;
    const [first, second] = ["socket-1", "socket-2"].map((name) => c.instances.find((i) => i.instanceId === name)!.url);
    await exactResume({ auth: c.endpoints.auth!, chat: c.endpoints.chat!, admin: c.adminToken, first: first!, second: second! });
  }, 90_000);
});
