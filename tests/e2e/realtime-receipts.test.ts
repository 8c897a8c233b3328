import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, inject, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import type { ReadState, Receipt } from "@caas/gen/caas/chat/v1/read_state_pb.js";
import type { ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { bearer, grpcConnection, tenantWithUsers, wsConnection, type RealtimeConnection } from "./realtime-clients.js";

const platform = inject("embedded");
const cluster = inject("cluster");

let nextId = 1n;
const id = () => nextId++;
const pushedState = (conversationId: string, pred: (s: ReadState) => boolean) => (f: ServerFrame) =>
  f.replyTo === 0n && f.frame.case === "readState" && f.frame.value.conversationId === conversationId && pred(f.frame.value);
const receiptOf = (userId: string, conversationId: string, pred: (r: Receipt) => boolean) => (f: ServerFrame) =>
  f.frame.case === "receipt" && f.frame.value.userId === userId && f.frame.value.conversationId === conversationId && pred(f.frame.value);

interface Sockets {
  /** Where ann's first device, ann's second device and ben connect. */
  annA: string;
  annB: string;
  ben: string;
  cal: string;
}

async function wsAs(url: string, token: string, label: string) {
  const c = await wsConnection(url, label);
  const ok = await c.call({ id: id(), frame: { case: "auth", value: { accessToken: token } } });
  expect(ok.frame.case, `${label} auth`).toBe("authOk");
  return c;
}

/**
 * ann marks read and delivered over her WebSocket: the reply is her read state, her other device
 * (gRPC bidi) gets it pushed, ben (DIRECT) gets receipts; in a CHANNEL nobody gets receipts; a
 * conversation ann cannot see is NOT_FOUND.
 */
async function liveReceipts(authUrl: string, chatUrl: string, adminCredential: string, at: Sockets, waitMs: number) {
  const t = await tenantWithUsers(authUrl, adminCredential, ["ann", "ben", "cal"]);
  const chatAs = (user: string) => createClient(ChatService, createGrpcTransport({ baseUrl: chatUrl, interceptors: [bearer(t.token(user))] }));
  const dm = (await chatAs("ann").createConversation({ type: ConversationType.DIRECT, memberIds: ["ben"] })).conversation!.id;
  const channel = (await chatAs("ben").createConversation({ type: ConversationType.CHANNEL, memberIds: ["ann"], title: "news" })).conversation!.id;
  const secret = (await chatAs("ben").createConversation({ type: ConversationType.GROUP, memberIds: ["cal"], title: "secret" })).conversation!.id;
  const m1 = await chatAs("ben").sendMessage({ conversationId: dm, clientMessageId: "m1", text: "one" });
  const m2 = await chatAs("ben").sendMessage({ conversationId: dm, clientMessageId: "m2", text: "two" });
  const c1 = await chatAs("ben").sendMessage({ conversationId: channel, clientMessageId: "c1", text: "news" });

  const annA = await wsAs(at.annA, t.token("ann"), "ann-ws");
  const annB = grpcConnection(at.annB, (await t.issue("ann", "d2")).accessToken, "ann-grpc");
  await annB.waitFor((f) => f.frame.case === "authOk", waitMs, "AuthOk");
  const ben = await wsAs(at.ben, t.token("ben"), "ben-ws");
  const cal = await wsAs(at.cal, t.token("cal"), "cal-ws");
  const conns: RealtimeConnection[] = [annA, annB, ben, cal];
  try {
    // Channel first: ann's own devices learn it, ben gets no receipt (checked after the DM barrier below).
    const inChannel = await annA.call({ id: id(), frame: { case: "markRead", value: { conversationId: channel, seq: c1.seq } } });
    expect(inChannel.frame.case === "readState" && inChannel.frame.value.lastReadSeq).toBe(c1.seq);
    await annB.waitFor(
      pushedState(channel, (s) => s.lastReadSeq === c1.seq),
      waitMs,
      "channel read state on the other device",
    );

    const delivered = await annA.call({ id: id(), frame: { case: "markDelivered", value: { conversationId: dm, seq: m2.seq } } });
    expect(delivered.frame.case === "readState" && delivered.frame.value.lastDeliveredSeq).toBe(m2.seq);
    const read = await annA.call({ id: id(), frame: { case: "markRead", value: { conversationId: dm, seq: m1.seq } } });
    expect(read.frame.case === "readState" && read.frame.value).toMatchObject({ conversationId: dm, userId: "ann", lastReadSeq: m1.seq, unreadCount: 1 });

    const onOther = (
      await annB.waitFor(
        pushedState(dm, (s) => s.lastReadSeq === m1.seq),
        waitMs,
        "DM read state on the other device",
      )
    ).frame.value as ReadState;
    expect(onOther).toMatchObject({ userId: "ann", lastDeliveredSeq: m2.seq, unreadCount: 1 });
    await ben.waitFor(
      receiptOf("ann", dm, (r) => r.lastDeliveredSeq === m2.seq),
      waitMs,
      "ann's delivery receipt",
    );
    const receipt = (
      await ben.waitFor(
        receiptOf("ann", dm, (r) => r.lastReadSeq === m1.seq),
        waitMs,
        "ann's read receipt",
      )
    ).frame.value as Receipt;
    expect(receipt.lastDeliveredSeq).toBe(m2.seq);
    expect(receipt.updateTime).toBeDefined();

    // The channel's marker (published before the DM's, same key) never became a receipt; cal shares nothing with ann.
    expect(ben.frames.filter(receiptOf("ann", channel, () => true))).toEqual([]);
    expect(ben.frames.filter((f) => f.frame.case === "readState" && f.frame.value.userId !== "ben")).toEqual([]);
    await cal.call({ id: id(), frame: { case: "ping", value: { nonce: 1n } } });
    expect(cal.frames.filter((f) => f.frame.case === "receipt" || f.frame.case === "readState")).toEqual([]);

    // BOLA: a conversation ann is not in, or one that does not exist, is NOT_FOUND; the connection stays.
    for (const conversationId of [secret, "0190f000-0000-7000-8000-00000000dead"]) {
      const refused = await annA.call({ id: id(), frame: { case: "markRead", value: { conversationId, seq: 1n } } });
      expect(refused.frame.case === "error" && refused.frame.value.code, conversationId).toBe(Code.NotFound);
    }
    const invalid = await annA.call({ id: id(), frame: { case: "markRead", value: { conversationId: "not-a-uuid", seq: 1n } } });
    expect(invalid.frame.case === "error" && invalid.frame.value.code).toBe(Code.InvalidArgument);
    expect(annA.closed).toBeUndefined();

    // ann blocks and unblocks cal through chat: both of her devices learn it, in order; nobody else does.
    await chatAs("ann").blockUser({ userId: "cal" });
    await chatAs("ann").unblockUser({ userId: "cal" });
    const blockOf = (f: ServerFrame) => (f.frame.case === "blockChanged" ? [`${f.frame.value.userId}:${f.frame.value.blocked}`] : []);
    for (const [device, label] of [
      [annA, "ws"],
      [annB, "grpc"],
    ] as const) {
      await device.waitFor((f) => f.frame.case === "blockChanged" && !f.frame.value.blocked, waitMs, `the unblock on ann's ${label} device`);
      expect(device.frames.flatMap(blockOf)).toEqual(["cal:true", "cal:false"]);
    }
    await ben.call({ id: id(), frame: { case: "ping", value: { nonce: 2n } } });
    await cal.call({ id: id(), frame: { case: "ping", value: { nonce: 2n } } });
    expect([...ben.frames, ...cal.frames].flatMap(blockOf)).toEqual([]);
  } finally {
    for (const c of conns) c.close();
  }
}

describe("live read and delivery receipts on the embedded platform", () => {
  it("pushes read_state and block changes to the user's other devices and receipts to the other member where shared", async () => {
    const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();
    const url = platform.endpoints.socket!;
    await liveReceipts(platform.endpoints.auth!, platform.endpoints.chat!, adminCredential, { annA: url, annB: url, ben: url, cal: url }, 10_000);
  });
});

describe.skipIf(!cluster)("live receipts across two socket instances (cluster, Kafka)", () => {
  it("reaches the other device and the other member on the other instance", async () => {
    const c = cluster!;
    const url = (name: string) => c.instances.find((i) => i.instanceId === name)!.url;
    await liveReceipts(c.endpoints.auth!, c.endpoints.chat!, c.adminToken, { annA: url("socket-1"), annB: url("socket-2"), ben: url("socket-2"), cal: url("socket-1") }, 30_000);
  }, 90_000);
});
