import { create } from "@bufbuild/protobuf";
import { describe, expect, it, vi } from "vitest";
import { EventSchema, type Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import { ClientFrameSchema, CloseCode, type ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { createLogger } from "@caas/shared/logger";
import { systemClock } from "@caas/shared/clock";
import { UnauthenticatedError } from "@caas/shared/errors";
import type { JwtVerifier } from "@caas/shared/identity/jwt-verifier";
import type { ChatClient } from "../src/chat-calls.js";
import { Hub, type Recipient } from "../src/hub.js";
import type { FrameSink, SessionLimits } from "../src/session.js";
import { SessionRegistry } from "../src/sessions.js";

const limits: SessionLimits = { authTimeoutMs: 50, heartbeatMs: 60_000, maxQueuedFrames: 8, maxFrameBytes: 1024, retryAfterMs: 1_000 };

/** A sink recording batches and the close code. */
function recordingSink() {
  const batches: ServerFrame[][] = [];
  const sink: FrameSink & { batches: ServerFrame[][]; ended?: CloseCode; frames(): ServerFrame[] } = {
    batches,
    write: (frames) => batches.push(frames),
    congested: () => false,
    end(code) {
      sink.ended = code;
    },
    frames: () => batches.flat(),
  };
  return sink;
}

const verifier: JwtVerifier = {
  async verify(token) {
    if (token !== "good") throw new UnauthenticatedError("access token is malformed");
    const now = Math.floor(Date.now() / 1000);
    return {
      kid: "k1",
      acceptedUntilMs: (now + 330) * 1000,
      claims: { iss: "caas-auth", aud: "caas-api", sub: "bob", tenant: "t1", sid: "s1", device: "d1", scopes: [], roles: [], jti: "j", iat: now, nbf: now, exp: now + 300 },
    };
  },
  verifyServiceToken: async () => ({ service: "x" }),
};

function setup(chat: Partial<ChatClient> = {}) {
  const hub = new Hub();
  const fakeChat = {
    listConversations: async () => ({ conversations: [{ conversation: { id: "c1" }, membership: { userId: "bob" } }], nextPageToken: "" }),
    ...chat,
  } as unknown as ChatClient;
  const registry = new SessionRegistry({ verifier, chat: fakeChat, hub, clock: systemClock, logger: createLogger({ service: "socket-test", instance: "test", level: "silent" }), limits });
  return { hub, registry };
}

const message = (conversationId: string, seq: bigint): Event =>
  create(EventSchema, { conversationId, seq, payload: { case: "messageCreated", value: { message: { id: `m${seq}`, text: `t${seq}` } } } });
const tick = () => new Promise((r) => setImmediate(r));

describe("session core", () => {
  it("closes with AUTH_TIMEOUT when no auth frame arrives in time", async () => {
    const { registry } = setup();
    const sink = recordingSink();
    registry.open(sink, { clientHeartbeats: true, serverPongs: false });
    await vi.waitFor(() => expect(sink.ended).toBe(CloseCode.AUTH_TIMEOUT), { timeout: 1_000 });
    expect(sink.frames().at(-1)?.frame.case).toBe("closing");
    expect(registry.size).toBe(0);
  });

  it("coalesces one tick's events into one write and drops redelivered seqs", async () => {
    const { hub, registry } = setup();
    const sink = recordingSink();
    const session = registry.open(sink, { clientHeartbeats: true, serverPongs: false });
    expect(await session.authenticate("good", 1n)).toBe(true);
    await tick();
    sink.batches.length = 0;
    for (const seq of [5n, 6n, 6n, 7n]) hub.dispatch("t1", message("c1", seq));
    hub.dispatch("t2", message("c1", 8n));
    await tick();
    expect(sink.batches).toHaveLength(1);
    expect(sink.batches[0]!.map((f) => (f.frame.case === "event" ? f.frame.value.seq : -1n))).toEqual([5n, 6n, 7n]);
  });

  it("hands each seq out once per conversation: a later joiner gets no redelivered event from before the join", async () => {
    const hub = new Hub();
    const got: Record<string, string[]> = { ann: [], bob: [] };
    const recipient = (userId: string): Recipient => ({
      tenantId: "t1",
      userId,
      deliver: (e) => got[userId]!.push(`${e.conversationId}:${e.seq}`),
      deliverTyping: () => undefined,
    });
    await hub.join(recipient("ann"), async () => ["c1"]);
    await hub.join(recipient("bob"), async () => []);
    hub.dispatch("t1", message("c1", 4n));
    hub.dispatch("t1", create(EventSchema, { conversationId: "c1", seq: 5n, payload: { case: "memberJoined", value: { member: { userId: "bob" } } } }));
    hub.dispatch("t1", message("c1", 4n));
    hub.dispatch("t1", message("c1", 5n));
    hub.dispatch("t1", message("c1", 6n));
    expect(got.ann).toEqual(["c1:4", "c1:5", "c1:6"]);
    expect(got.bob).toEqual(["c1:5", "c1:6"]);
  });

  it("applies membership from the event stream: removal stops delivery, a join starts it", async () => {
    const { hub, registry } = setup();
    const sink = recordingSink();
    const session = registry.open(sink, { clientHeartbeats: true, serverPongs: false });
    await session.authenticate("good", 1n);
    hub.dispatch("t1", create(EventSchema, { conversationId: "c1", seq: 2n, payload: { case: "memberRemoved", value: { userId: "bob" } } }));
    hub.dispatch("t1", message("c1", 3n));
    hub.dispatch("t1", message("c2", 1n));
    hub.dispatch("t1", create(EventSchema, { conversationId: "c2", seq: 2n, payload: { case: "memberJoined", value: { member: { userId: "bob" } } } }));
    hub.dispatch("t1", message("c2", 3n));
    await tick();
    const events = sink.frames().flatMap((f) => (f.frame.case === "event" ? [`${f.frame.value.conversationId}:${f.frame.value.seq}`] : []));
    expect(events).toEqual(["c1:2", "c2:2", "c2:3"]);
  });

  it("closes with SLOW_CONSUMER when the bounded queue overflows, leaving others unharmed", async () => {
    const { hub, registry } = setup();
    const slow = recordingSink();
    slow.congested = () => true;
    const fine = recordingSink();
    const a = registry.open(slow, { clientHeartbeats: true, serverPongs: false });
    const b = registry.open(fine, { clientHeartbeats: true, serverPongs: false });
    await a.authenticate("good", 0n);
    await b.authenticate("good", 0n);
    expect(slow.ended).toBe(CloseCode.SLOW_CONSUMER);
    hub.dispatch("t1", message("c1", 1n));
    await tick();
    expect(fine.ended).toBeUndefined();
    expect(fine.frames().some((f) => f.frame.case === "event")).toBe(true);
  });

  it("asks the transport at the first frame of each batch: a transport congested by a flushed batch closes at the next frame", async () => {
    const { hub, registry } = setup();
    const sink = recordingSink();
    let held = 0;
    sink.congested = () => held > 2;
    const write = sink.write.bind(sink);
    sink.write = (frames) => {
      held += frames.length; // the client reads nothing: everything written stays buffered
      write(frames);
    };
    const session = registry.open(sink, { clientHeartbeats: true, serverPongs: false });
    await session.authenticate("good", 0n);
    for (const seq of [1n, 2n, 3n]) hub.dispatch("t1", message("c1", seq));
    await tick();
    expect(sink.ended).toBeUndefined(); // AuthOk and three events were written: the transport now holds four frames
    hub.dispatch("t1", message("c1", 4n));
    expect(sink.ended).toBe(CloseCode.SLOW_CONSUMER);
  });

  it("refuses a bad token with a FrameError and AUTH_FAILED", async () => {
    const { registry } = setup();
    const sink = recordingSink();
    const session = registry.open(sink, { clientHeartbeats: true, serverPongs: false });
    session.receive({ id: 3n, frame: { case: "auth", value: { accessToken: "bad" } } } as never);
    await vi.waitFor(() => expect(sink.ended).toBe(CloseCode.AUTH_FAILED));
    expect(sink.frames().map((f) => f.frame.case)).toEqual(["error", "closing"]);
  });

  it("holds live events during a resume and drops the seqs the catch-up carried", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { hub, registry } = setup({
      getChanges: (async () => {
        await gate;
        return { conversations: [{ conversationId: "c1", events: [message("c1", 4n), message("c1", 5n)] }], nextCursor: "next", hasMore: false };
      }) as never,
    });
    const sink = recordingSink();
    const session = registry.open(sink, { clientHeartbeats: true, serverPongs: false });
    await session.authenticate("good", 0n);
    const resuming = session.resume(9n, { cursor: "old", perConversationLimit: 0 } as never);
    hub.dispatch("t1", message("c1", 5n));
    hub.dispatch("t1", message("c1", 6n));
    release();
    await resuming;
    await tick();
    const kinds = sink
      .frames()
      .filter((f) => f.frame.case !== "authOk")
      .map((f) => (f.frame.case === "event" ? `event:${f.frame.value.seq}` : f.frame.case));
    expect(kinds).toEqual(["changes", "resumeDone", "event:6"]);
  });

  it("leaves out of the catch-up the live events pushed on the connection before its first resume, and only those", async () => {
    const { hub, registry } = setup({
      getChanges: (async () => ({ conversations: [{ conversationId: "c1", events: [5n, 6n, 7n].map((seq) => message("c1", seq)) }], nextCursor: "next", hasMore: false })) as never,
    });
    const seqsOf = (sink: ReturnType<typeof recordingSink>) =>
      sink.frames().flatMap((f) => (f.frame.case === "event" ? [`event:${f.frame.value.seq}`] : f.frame.case === "changes" ? f.frame.value.events.map((e) => `changes:${e.seq}`) : []));
    const sink = recordingSink();
    const session = registry.open(sink, { clientHeartbeats: true, serverPongs: false });
    await session.authenticate("good", 0n);
    // Between AuthOk and the client's Resume: 5 and 6 go out live.
    hub.dispatch("t1", message("c1", 5n));
    hub.dispatch("t1", message("c1", 6n));
    await session.resume(9n, { cursor: "old", perConversationLimit: 0 } as never);
    await tick();
    expect(seqsOf(sink)).toEqual(["event:5", "event:6", "changes:7"]);
    // A second resume on the same connection repeats everything its catch-up reads (the client asked again).
    hub.dispatch("t1", message("c1", 8n));
    await session.resume(10n, { cursor: "next", perConversationLimit: 0 } as never);
    await tick();
    expect(seqsOf(sink).slice(3)).toEqual(["event:8", "changes:5", "changes:6", "changes:7"]);
  });

  it("does not push live an event the last catch-up on the connection carried (it reached the live path after ResumeDone)", async () => {
    const { hub, registry } = setup({
      getChanges: (async () => ({ conversations: [{ conversationId: "c1", events: [5n, 6n].map((seq) => message("c1", seq)) }], nextCursor: "next", hasMore: false })) as never,
    });
    const sink = recordingSink();
    const session = registry.open(sink, { clientHeartbeats: true, serverPongs: false });
    await session.authenticate("good", 0n);
    await session.resume(9n, { cursor: "old", perConversationLimit: 0 } as never);
    for (const seq of [6n, 7n]) hub.dispatch("t1", message("c1", seq));
    hub.dispatch("t1", message("c2", 1n));
    await tick();
    const pushed = sink.frames().flatMap((f) => (f.frame.case === "event" ? [`${f.frame.value.conversationId}:${f.frame.value.seq}`] : []));
    expect(pushed).toEqual(["c1:7"]);
  });

  it("drains every session with SERVER_SHUTDOWN and refuses new ones", async () => {
    const { registry } = setup();
    const sinks = [recordingSink(), recordingSink()];
    for (const s of sinks) await registry.open(s, { clientHeartbeats: true, serverPongs: false }).authenticate("good", 0n);
    registry.drain();
    for (const s of sinks) {
      expect(s.ended).toBe(CloseCode.SERVER_SHUTDOWN);
      const closing = s.frames().at(-1)!;
      expect(closing.frame.case === "closing" && closing.frame.value.retryAfter?.seconds).toBe(1n);
    }
    const late = recordingSink();
    registry.open(late, { clientHeartbeats: true, serverPongs: false });
    expect(late.ended).toBe(CloseCode.SERVER_SHUTDOWN);
    expect(registry.size).toBe(0);
  });

  it("after a heavy flush holds the next one about as long (at most 10 ms), keeping every connection's order", async () => {
    const { hub, registry } = setup();
    const busy = (ms: number) => {
      for (const end = performance.now() + ms; performance.now() < end;);
    };
    // 120 connections whose writes take 0.1 ms each: a flush of all of them takes at least 12 ms.
    const writes: Array<{ at: number; seqs: bigint[] }[]> = [];
    const sinks = Array.from({ length: 120 }, (_, i) => {
      const sink = recordingSink();
      writes[i] = [];
      sink.write = (frames) => {
        busy(0.1);
        sink.batches.push(frames);
        writes[i]!.push({ at: performance.now(), seqs: frames.flatMap((f) => (f.frame.case === "event" ? [f.frame.value.seq] : [])) });
      };
      return sink;
    });
    for (const sink of sinks) expect(await registry.open(sink, { clientHeartbeats: true, serverPongs: false }).authenticate("good", 0n)).toBe(true);
    await new Promise((r) => setTimeout(r, 30));
    for (const w of writes) w.length = 0;
    // The write that carried event `seq` to each connection (other frames, e.g. late membership
    // or heartbeat frames of a loaded machine, may be written in between and are ignored).
    const writeOf = (w: { at: number; seqs: bigint[] }[], seq: bigint) => w.find((x) => x.seqs.includes(seq));
    hub.dispatch("t1", message("c1", 1n));
    // Event 1's flush to all 120 is the heavy one (at least 12 ms of writes).
    await vi.waitFor(() => expect(writes.every((w) => writeOf(w, 1n) !== undefined)).toBe(true), { timeout: 1_000 });
    const heavyEnd = Math.max(...writes.map((w) => writeOf(w, 1n)!.at));
    hub.dispatch("t1", message("c1", 2n));
    await tick();
    hub.dispatch("t1", message("c1", 3n));
    await vi.waitFor(() => expect(writes.every((w) => w.flatMap((x) => x.seqs).length === 3)).toBe(true), { timeout: 1_000 });
    for (const w of writes) {
      expect(w.flatMap((x) => x.seqs)).toEqual([1n, 2n, 3n]);
      // Held: event 2 went out about 10 ms (the cap; the flush took longer) after the heavy flush
      // ended, not on the next tick (timers may fire up to a millisecond early).
      expect(writeOf(w, 2n)!.at - heavyEnd).toBeGreaterThanOrEqual(8.5);
    }
    // Once that long has passed nothing is held: a new session's AuthOk goes out on the next tick.
    await new Promise((r) => setTimeout(r, 30));
    const one = recordingSink();
    expect(await registry.open(one, { clientHeartbeats: true, serverPongs: false }).authenticate("good", 0n)).toBe(true);
    await tick();
    expect(one.batches).toHaveLength(1);
  });
  it("abandons the sends still in flight at chat when the connection goes away", async () => {
    const signals: AbortSignal[] = [];
    const { registry } = setup({
      sendMessage: ((_req: unknown, opts: { signal?: AbortSignal }) => {
        signals.push(opts.signal!);
        return new Promise(() => undefined); // chat is slow: the answer never comes before the client leaves
      }) as unknown as ChatClient["sendMessage"],
    });
    const sink = recordingSink();
    const session = registry.open(sink, { clientHeartbeats: true, serverPongs: false });
    expect(await session.authenticate("good", 1n)).toBe(true);
    session.receive(create(ClientFrameSchema, { id: 2n, frame: { case: "send", value: { conversationId: "c1", clientMessageId: "m1", text: "hi" } } }));
    await vi.waitFor(() => expect(signals).toHaveLength(1));
    expect(signals[0]!.aborted).toBe(false);
    session.detach();
    expect(signals[0]!.aborted).toBe(true);
  });

  it("tells chat which sends are a client's retries, as an RPC retry's grpc-previous-rpc-attempts does", async () => {
    const seen: (string | undefined)[] = [];
    const { registry } = setup({
      sendMessage: ((_req: unknown, opts: { headers: Record<string, string> }) => {
        seen.push(opts.headers["grpc-previous-rpc-attempts"]);
        return Promise.resolve({ messageId: "m", seq: 1n, duplicate: false });
      }) as unknown as ChatClient["sendMessage"],
    });
    const sink = recordingSink();
    const session = registry.open(sink, { clientHeartbeats: true, serverPongs: false });
    expect(await session.authenticate("good", 1n)).toBe(true);
    session.receive(create(ClientFrameSchema, { id: 2n, frame: { case: "send", value: { conversationId: "c1", clientMessageId: "m1", text: "hi" } } }));
    await vi.waitFor(() => expect(seen).toHaveLength(1));
    session.receive(create(ClientFrameSchema, { id: 3n, frame: { case: "send", value: { conversationId: "c1", clientMessageId: "m1", text: "hi", previousAttempts: 2 } } }));
    await vi.waitFor(() => expect(seen).toHaveLength(2));
    expect(seen).toEqual([undefined, "2"]);
  });
});
