import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { DeviceChangeKind } from "@caas/gen/caas/crypto/v1/device_keys_pb.js";
import { UserStateEventEnvelopeSchema } from "@caas/gen/caas/events/v1/user_state_events_pb.js";
import { CloseCode, type ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { createLogger } from "@caas/shared/logger";
import { createSqliteEventBus } from "@caas/shared/eventing/sqlite";
import { newId } from "@caas/shared/ids";
import { ResourceExhaustedError, toConnectError } from "@caas/shared/errors";
import { scopeFromVerifiedClaims } from "@caas/shared/tenant-scope";
import { systemClock } from "@caas/shared/clock";
import { USER_STATE_EVENTS } from "@caas/shared/eventing/topics";
import type { EventBus, Subscription } from "@caas/shared/eventing/bus";
import type { JwtVerifier } from "@caas/shared/identity/jwt-verifier";
import { createMemoryPresence } from "../src/adapters/presence-memory.js";
import { createMemoryPubSub } from "../src/adapters/pubsub-memory.js";
import type { ChatClient } from "../src/chat-calls.js";
import { Hub } from "../src/hub.js";
import { PresenceTracker } from "../src/presence.js";
import type { FrameSink, SessionLimits } from "../src/session.js";
import { SessionRegistry } from "../src/sessions.js";
import { UserStateRelay, startUserStateFeed } from "../src/user-state-feed.js";

const logger = createLogger({ service: "socket-test", instance: "test", level: "silent" });
const limits: SessionLimits = { authTimeoutMs: 5_000, heartbeatMs: 60_000, maxQueuedFrames: 256, maxFrameBytes: 1024, retryAfterMs: 1_000 };

/** Tokens are "<tenant>.<user>.<session>". */
const verifier: JwtVerifier = {
  async verify(token) {
    const [tenant, sub, sid] = token.split(".") as [string, string, string];
    const iat = Math.floor(Date.now() / 1000) - 1;
    const claims = { iss: "caas-auth", aud: "caas-api", sub, tenant, sid, device: "d1", scopes: [], roles: [], jti: token, iat, nbf: iat, exp: iat + 300 };
    return { kid: "k1", claims, acceptedUntilMs: claims.exp * 1000 };
  },
  verifyServiceToken: async () => ({ service: "x" }),
};

const DIRECT = "0190f000-0000-7000-8000-000000000001";
const GROUP = "0190f000-0000-7000-8000-000000000002";
const BIG_GROUP = "0190f000-0000-7000-8000-000000000003";
const CHANNEL = "0190f000-0000-7000-8000-000000000004";
const ELSEWHERE = "0190f000-0000-7000-8000-000000000005";

/** Who belongs where (per tenant the same ids, so a cross-tenant leak would show). */
const MEMBERSHIP: Record<string, Array<{ id: string; type: ConversationType; memberCount: number }>> = {
  ann: [
    { id: DIRECT, type: ConversationType.DIRECT, memberCount: 2 },
    { id: GROUP, type: ConversationType.GROUP, memberCount: 3 },
    { id: BIG_GROUP, type: ConversationType.GROUP, memberCount: 101 },
    { id: CHANNEL, type: ConversationType.CHANNEL, memberCount: 2 },
  ],
  ben: [
    { id: DIRECT, type: ConversationType.DIRECT, memberCount: 2 },
    { id: GROUP, type: ConversationType.GROUP, memberCount: 3 },
    { id: BIG_GROUP, type: ConversationType.GROUP, memberCount: 101 },
    { id: CHANNEL, type: ConversationType.CHANNEL, memberCount: 2 },
  ],
  cal: [{ id: ELSEWHERE, type: ConversationType.GROUP, memberCount: 2 }],
};

function recordingSink() {
  const frames: ServerFrame[] = [];
  const s: FrameSink & { frames: ServerFrame[]; ended?: CloseCode } = {
    frames,
    write: (batch) => frames.push(...batch),
    congested: () => false,
    end(code) {
      s.ended = code;
    },
  };
  return s;
}

function fakeChat(onSend?: () => Promise<void>): ChatClient {
  return {
    listConversations: async (_req: unknown, opts: { headers: Record<string, string> }) => {
      const user = opts.headers.authorization!.split(".")[1]!;
      return {
        conversations: (MEMBERSHIP[user] ?? []).map((c) => ({ conversation: { id: c.id, type: c.type, memberCount: c.memberCount, lastSeq: 5n }, membership: { userId: user } })),
        nextPageToken: "",
      };
    },
    sendMessage: async () => {
      await onSend?.();
      return { messageId: newId(), seq: 1n, duplicate: false };
    },
  } as unknown as ChatClient;
}

async function openSession(reg: SessionRegistry, token: string) {
  const sink = recordingSink();
  const session = reg.open(sink, { clientHeartbeats: true, serverPongs: false });
  const opened = await session.authenticate(token, 1n);
  return { session, sink, opened };
}

const marker = (tenantId: string, userId: string, conversationId: string, read: bigint, delivered: bigint, kind: "readMarkerMoved" | "deliveryMarkerMoved" = "readMarkerMoved") =>
  create(UserStateEventEnvelopeSchema, {
    eventId: newId(),
    tenantId,
    userId,
    createTime: timestampNow(),
    payload: { case: kind, value: { readState: { conversationId, userId, lastReadSeq: read, lastDeliveredSeq: delivered, unreadCount: 0, updateTime: timestampNow() } } },
  });

const of = (frames: ServerFrame[], kind: "readState" | "receipt") =>
  frames.filter((f) => f.frame.case === kind).map((f) => f.frame.value as { conversationId: string; userId: string; lastReadSeq: bigint });

describe("live receipts from the user-state topic (SQLite bus, real sessions)", () => {
  let bus: EventBus;
  let feed: Subscription;
  const hub = new Hub();
  const reg = new SessionRegistry({ verifier, chat: fakeChat(), hub, clock: systemClock, logger, limits });

  beforeAll(async () => {
    bus = await createSqliteEventBus({ path: ":memory:", clock: systemClock, logger });
    feed = await startUserStateFeed(bus, "socket-userstate.test", new UserStateRelay(hub));
  });
  afterAll(async () => {
    await feed.close();
    await bus.close();
  });

  it("pushes read_state to every device of the user and receipts to other members where shared, nothing across tenants", async () => {
    const ann1 = await openSession(reg, "t1.ann.s1");
    const ann2 = await openSession(reg, "t1.ann.s2");
    const ben = await openSession(reg, "t1.ben.s3");
    const cal = await openSession(reg, "t1.cal.s4");
    const otherAnn = await openSession(reg, "t2.ann.s5");
    const otherBen = await openSession(reg, "t2.ben.s6");
    const publish = (...envs: ReturnType<typeof marker>[]) =>
      bus.publish(
        USER_STATE_EVENTS,
        envs.map((value) => ({ key: `${value.tenantId}/${value.userId}`, value, headers: {} })),
      );

    await publish(
      marker("t1", "ann", DIRECT, 7n, 7n),
      marker("t1", "ann", DIRECT, 7n, 7n), // redelivered: dropped
      marker("t1", "ann", GROUP, 3n, 4n),
      marker("t1", "ann", BIG_GROUP, 2n, 2n),
      marker("t1", "ann", CHANNEL, 1n, 1n),
      marker("t1", "ann", DIRECT, 5n, 9n, "deliveryMarkerMoved"), // read behind, delivered ahead: pushed
    );
    // Blocks go to the user's own devices, in order, and later records still flow.
    const block = (blocked: boolean) =>
      create(UserStateEventEnvelopeSchema, {
        eventId: newId(),
        tenantId: "t1",
        userId: "ann",
        createTime: timestampNow(),
        payload: blocked ? { case: "userBlocked", value: { blockedUserId: "cal" } } : { case: "userUnblocked", value: { blockedUserId: "cal" } },
      });
    await bus.publish(
      USER_STATE_EVENTS,
      [block(true), block(false)].map((value) => ({ key: "t1/ann", value, headers: {} })),
    );
    // The key directory's notice that one of ann's devices runs low on one-time prekeys.
    const low = create(UserStateEventEnvelopeSchema, { eventId: newId(), tenantId: "t1", userId: "ann", payload: { case: "oneTimePrekeysLow", value: { deviceId: 3, remaining: 9, threshold: 10 } } });
    await bus.publish(USER_STATE_EVENTS, [{ key: "t1/ann", value: low, headers: {} }]);
    // Ann's device list changed: she shares DIRECT and GROUP with ben (one frame for him), nothing with cal.
    const changed = create(UserStateEventEnvelopeSchema, {
      eventId: newId(),
      tenantId: "t1",
      userId: "ann",
      payload: { case: "deviceListChanged", value: { deviceId: 2, kind: DeviceChangeKind.ADDED, changeSeq: 4n, conversationIds: [DIRECT, GROUP] } },
    });
    await bus.publish(USER_STATE_EVENTS, [{ key: "t1/ann", value: changed, headers: {} }]);
    await publish(marker("t1", "ben", GROUP, 8n, 8n));

    await vi.waitFor(() => expect(of(ann1.sink.frames, "receipt").map((r) => `${r.userId}:${r.conversationId}:${r.lastReadSeq}`)).toEqual([`ben:${GROUP}:8`]), { timeout: 5_000 });
    for (const device of [ann1, ann2]) {
      expect(of(device.sink.frames, "readState").map((r) => `${r.conversationId}:${r.lastReadSeq}`)).toEqual([`${DIRECT}:7`, `${GROUP}:3`, `${BIG_GROUP}:2`, `${CHANNEL}:1`, `${DIRECT}:5`]);
    }
    // Receipts only in DIRECT and the small GROUP; never in the big group or the channel.
    expect(of(ben.sink.frames, "receipt").map((r) => `${r.userId}:${r.conversationId}:${r.lastReadSeq}`)).toEqual([`ann:${DIRECT}:7`, `ann:${GROUP}:3`, `ann:${DIRECT}:5`]);
    expect(of(ben.sink.frames, "readState").map((r) => r.conversationId)).toEqual([GROUP]);
    for (const outsider of [cal, otherAnn, otherBen]) expect(outsider.sink.frames.filter((f) => f.frame.case === "receipt" || f.frame.case === "readState")).toEqual([]);
    for (const device of [ann1, ann2]) {
      const blocks = device.sink.frames.flatMap((f) => (f.frame.case === "blockChanged" ? [f.frame.value] : []));
      expect(blocks.map((b) => `${b.userId}:${b.blocked}`)).toEqual(["cal:true", "cal:false"]);
      expect(blocks.every((b) => b.updateTime !== undefined)).toBe(true);
    }
    for (const other of [ben, cal, otherAnn, otherBen]) expect(other.sink.frames.filter((f) => f.frame.case === "blockChanged")).toEqual([]);
    for (const device of [ann1, ann2]) {
      expect(device.sink.frames.flatMap((f) => (f.frame.case === "prekeysLow" ? [`${f.frame.value.deviceId}:${f.frame.value.remaining}:${f.frame.value.threshold}`] : []))).toEqual(["3:9:10"]);
    }
    for (const other of [ben, cal, otherAnn, otherBen]) expect(other.sink.frames.filter((f) => f.frame.case === "prekeysLow")).toEqual([]);
    const keysChanged = (frames: ServerFrame[]) =>
      frames.flatMap((f) => (f.frame.case === "keysChanged" ? [`${f.frame.value.userId}:${f.frame.value.deviceId}:${f.frame.value.kind}:${f.frame.value.changeSeq}`] : []));
    for (const device of [ann1, ann2, ben]) expect(keysChanged(device.sink.frames)).toEqual([`ann:2:${DeviceChangeKind.ADDED}:4`]);
    for (const other of [cal, otherAnn, otherBen]) expect(keysChanged(other.sink.frames)).toEqual([]);
  });
});

/**
 * A chat whose conversation list takes a while to load, as it does over the network: the window
 * in which a check-then-register count let every concurrent connection in.
 */
function slowListChat(): ChatClient {
  return {
    ...fakeChat(),
    listConversations: async (req: unknown, opts: { headers: Record<string, string> }) => {
      await new Promise((r) => setTimeout(r, 20));
      return fakeChat().listConversations(req as never, opts);
    },
  } as unknown as ChatClient;
}

describe("session limits", () => {
  it("refuses sends beyond the in-flight bound with RESOURCE_EXHAUSTED and retry_after; the connection stays usable", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const reg = new SessionRegistry({ verifier, chat: fakeChat(() => gate), hub: new Hub(), clock: systemClock, logger, limits: { ...limits, maxInflightSends: 2 } });
    const { session, sink } = await openSession(reg, "t1.ann.s1");
    const send = (id: bigint) => session.receive({ id, frame: { case: "send", value: { conversationId: DIRECT, clientMessageId: `m${id}`, text: "hi" } } } as never);
    for (const id of [10n, 11n, 12n]) send(id);
    await vi.waitFor(() => expect(sink.frames.some((f) => f.replyTo === 12n)).toBe(true));
    const refused = sink.frames.find((f) => f.replyTo === 12n)!;
    expect(refused.frame).toMatchObject({ case: "error", value: { code: Code.ResourceExhausted } });
    expect(refused.frame.case === "error" && refused.frame.value.retryAfter).toBeTruthy();
    release();
    await vi.waitFor(() => expect(sink.frames.filter((f) => f.frame.case === "sendAck").map((f) => f.replyTo)).toEqual([10n, 11n]));
    send(13n);
    await vi.waitFor(() => expect(sink.frames.find((f) => f.replyTo === 13n)?.frame.case).toBe("sendAck"));
    expect(sink.ended).toBeUndefined();
  });

  it("counts no sends itself: every send frame reaches chat, whose refusal arrives as RESOURCE_EXHAUSTED with its retry_after", async () => {
    // Chat is the one place sends are counted (ADR 0023): here it accepts three and refuses the rest as it does.
    let calls = 0;
    const chat = {
      ...fakeChat(),
      sendMessage: async () => {
        if (++calls > 3) throw toConnectError(new ResourceExhaustedError("send rate limit reached for this user; retry in 1500 ms", 1500));
        return { messageId: newId(), seq: BigInt(calls), duplicate: false };
      },
    } as unknown as ChatClient;
    const reg = new SessionRegistry({ verifier, chat, hub: new Hub(), clock: systemClock, logger, limits });
    const a = await openSession(reg, "t1.ann.s1");
    let next = 100n;
    const send = async () => {
      const id = next++;
      a.session.receive({ id, frame: { case: "send", value: { conversationId: DIRECT, clientMessageId: `m${id}`, text: "hi" } } } as never);
      await vi.waitFor(() => expect(a.sink.frames.some((f) => f.replyTo === id)).toBe(true));
      return a.sink.frames.find((f) => f.replyTo === id)!;
    };
    for (let i = 0; i < 3; i++) expect((await send()).frame.case).toBe("sendAck");
    const refused = await send();
    expect(refused.frame).toMatchObject({ case: "error", value: { code: Code.ResourceExhausted, message: "send rate limit reached for this user; retry in 1500 ms" } });
    const retry = refused.frame.case === "error" ? refused.frame.value.retryAfter : undefined;
    expect(retry && Number(retry.seconds) * 1000 + retry.nanos / 1e6).toBe(1500);
    expect(calls, "the refused send was chat's to refuse, not the socket's").toBe(4);
    expect(a.sink.ended).toBeUndefined();
  });

  it("closes the user's connection beyond the per-user bound with TOO_MANY_CONNECTIONS; others are unaffected", async () => {
    const hub = new Hub();
    const presence = new PresenceTracker({ presence: createMemoryPresence({ clock: systemClock }), pubsub: createMemoryPubSub({}), logger, instanceId: "test", ttlMs: 60_000 });
    const reg = new SessionRegistry({ verifier, chat: fakeChat(), hub, presence, clock: systemClock, logger, limits: { ...limits, maxConnectionsPerUser: 2 } });
    const first = await openSession(reg, "t1.ann.s1");
    const second = await openSession(reg, "t1.ann.s2");
    const third = await openSession(reg, "t1.ann.s3");
    expect([first.opened, second.opened, third.opened]).toEqual([true, true, false]);
    expect(third.sink.ended).toBe(CloseCode.TOO_MANY_CONNECTIONS);
    expect(third.sink.frames.map((f) => f.frame.case)).toEqual(["error", "closing"]);
    const closing = third.sink.frames[1]!;
    expect(closing.frame.case === "closing" && closing.frame.value.retryAfter).toBeTruthy();
    expect((await openSession(reg, "t1.ben.s4")).opened).toBe(true);
    expect((await openSession(reg, "t2.ann.s5")).opened).toBe(true);
    first.session.close(CloseCode.UNSPECIFIED, "done");
    await vi.waitFor(async () => expect((await openSession(reg, "t1.ann.s6")).opened).toBe(true));
    expect(first.sink.ended).toBe(CloseCode.UNSPECIFIED);
    expect(second.sink.ended).toBeUndefined();
  });

  it("admits exactly the bound of a user's connections authenticating at once, across instances, and frees each place when it ends", async () => {
    const MAX = 3;
    const EXTRA = 5;
    const slowChat = slowListChat();
    const shared = createMemoryPresence({ clock: systemClock });
    const instance = (id: string) =>
      new SessionRegistry({
        verifier,
        chat: slowChat,
        hub: new Hub(),
        presence: new PresenceTracker({ presence: shared, pubsub: createMemoryPubSub({}), logger, instanceId: id, ttlMs: 60_000 }),
        clock: systemClock,
        logger,
        limits: { ...limits, maxConnectionsPerUser: MAX },
      });
    const [one, two] = [instance("socket-1"), instance("socket-2")];
    const attempts = await Promise.all(Array.from({ length: MAX + EXTRA }, (_, i) => openSession(i % 2 ? one : two, `t1.ann.s${i}`)));
    const admitted = attempts.filter((a) => a.opened);
    const refused = attempts.filter((a) => !a.opened);
    expect(admitted).toHaveLength(MAX);
    expect(refused).toHaveLength(EXTRA);
    for (const r of refused) {
      expect(r.sink.ended).toBe(CloseCode.TOO_MANY_CONNECTIONS);
      expect(r.sink.frames[0]?.frame).toMatchObject({ case: "error", value: { code: Code.ResourceExhausted, message: expect.stringContaining(`at most ${MAX}`) } });
    }
    // The refused ones hold no place: the Presence port has exactly the admitted connections.
    const [ann] = await shared.get(scopeFromVerifiedClaims({ tenant: "t1" }), ["ann"]);
    expect(ann!.connections.map((c) => c.connectionId).sort()).toEqual(admitted.map((a) => a.session.id).sort());
    // Ending one frees exactly one place.
    admitted[0]!.session.close(CloseCode.UNSPECIFIED, "done");
    await vi.waitFor(async () => {
      const again = await Promise.all([openSession(one, "t1.ann.n1"), openSession(two, "t1.ann.n2")]);
      expect(again.filter((a) => a.opened)).toHaveLength(1);
    });
    one.drain();
    two.drain();
  });

  it("without a Presence port counts this instance's places, as exactly: concurrent connections get the bound, no more", async () => {
    const MAX = 2;
    const slowChat = slowListChat();
    const reg = new SessionRegistry({ verifier, chat: slowChat, hub: new Hub(), clock: systemClock, logger, limits: { ...limits, maxConnectionsPerUser: MAX } });
    const attempts = await Promise.all(Array.from({ length: 6 }, (_, i) => openSession(reg, `t1.ben.s${i}`)));
    expect(attempts.filter((a) => a.opened)).toHaveLength(MAX);
    // Another user and another tenant's same user id have places of their own.
    expect((await openSession(reg, "t1.cal.s9")).opened).toBe(true);
    expect((await openSession(reg, "t2.ben.s9")).opened).toBe(true);
    attempts.find((a) => a.opened)!.session.close(CloseCode.UNSPECIFIED, "done");
    const after = await Promise.all(Array.from({ length: 3 }, (_, i) => openSession(reg, `t1.ben.m${i}`)));
    expect(after.filter((a) => a.opened)).toHaveLength(1);
    reg.drain();
  });

  it("closes on an oversized frame with FRAME_TOO_LARGE", async () => {
    const reg = new SessionRegistry({ verifier, chat: fakeChat(), hub: new Hub(), clock: systemClock, logger, limits });
    const { session, sink } = await openSession(reg, "t1.ann.s1");
    session.frameTooLarge(5_000);
    expect(sink.ended).toBe(CloseCode.FRAME_TOO_LARGE);
    const closing = sink.frames.at(-1)!;
    expect(closing.frame.case === "closing" && closing.frame.value.reason).toContain("5000 bytes exceeds max_frame_bytes (1024)");
  });
});
