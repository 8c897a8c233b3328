import { create } from "@bufbuild/protobuf";
import { describe, expect, it, vi } from "vitest";
import { EventSchema, type Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import type { ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { createLogger } from "@caas/shared/logger";
import { FakeClock, systemClock, type Clock } from "@caas/shared/clock";
import type { JwtVerifier } from "@caas/shared/identity/jwt-verifier";
import type { ChatClient } from "../src/chat-calls.js";
import { Hub } from "../src/hub.js";
import type { FrameSink, SessionLimits } from "../src/session.js";
import { SessionRegistry } from "../src/sessions.js";

const limits: SessionLimits = { authTimeoutMs: 5_000, heartbeatMs: 60_000, maxQueuedFrames: 64, maxFrameBytes: 1024, retryAfterMs: 1_000, checkpointMs: 20 };

const verifier: JwtVerifier = {
  async verify() {
    const iat = Math.floor(Date.now() / 1000) - 1;
    const claims = { iss: "caas-auth", aud: "caas-api", sub: "bob", tenant: "t1", sid: "s1", device: "d1", scopes: [], roles: [], jti: "j", iat, nbf: iat, exp: iat + 300 };
    return { kid: "k1", claims, acceptedUntilMs: claims.exp * 1000 };
  },
  verifyServiceToken: async () => ({ service: "x" }),
};

const message = (conversationId: string, seq: bigint): Event =>
  create(EventSchema, { conversationId, seq, payload: { case: "messageCreated", value: { message: { id: `m${seq}`, text: `t${seq}` } } } });

/** A chat whose GetChanges reports `head` as c1's newest event and records the cursors it was given. */
function setup(opts: { limits?: Partial<SessionLimits>; clock?: Clock } = {}) {
  const state = { head: 3n, cursors: [] as string[], calls: 0 };
  const chat = {
    listConversations: async () => ({ conversations: [{ conversation: { id: "c1", type: 2, memberCount: 2, lastSeq: 2n }, membership: { userId: "bob" } }], nextPageToken: "" }),
    getChanges: async (req: { cursor: string; perConversationLimit: number }) => {
      state.calls++;
      state.cursors.push(req.cursor);
      expect(req.perConversationLimit).toBe(1);
      return { conversations: [{ conversationId: "c1", events: [message("c1", state.head)] }], nextCursor: `cursor-${state.calls}`, hasMore: false };
    },
  } as unknown as ChatClient;
  const hub = new Hub();
  const registry = new SessionRegistry({
    verifier,
    chat,
    hub,
    clock: opts.clock ?? systemClock,
    logger: createLogger({ service: "socket-test", instance: "test", level: "silent" }),
    limits: { ...limits, ...opts.limits },
  });
  const frames: ServerFrame[] = [];
  const sink: FrameSink = { write: (b) => frames.push(...b), congested: () => false, end: () => undefined };
  return { state, hub, registry, frames, sink };
}

const checkpoints = (frames: ServerFrame[]) => frames.flatMap((f) => (f.frame.case === "checkpoint" ? [f.frame.value.cursor] : []));

describe("checkpoints", () => {
  it("pushes a fresh cursor after live activity, once delivery has reached every changed conversation's head", async () => {
    const { state, hub, registry, frames, sink } = setup();
    const session = registry.open(sink, { clientHeartbeats: true, serverPongs: false });
    expect(await session.authenticate("t", 1n)).toBe(true);
    // Idle: no activity, no GetChanges, no checkpoint.
    await session.checkpoint();
    expect(state.calls).toBe(0);

    // Chat already has seq 4 but this connection only got 3: no checkpoint yet (the cursor would cover seq 4).
    state.head = 4n;
    hub.dispatch("t1", message("c1", 3n));
    await session.checkpoint();
    expect(checkpoints(frames)).toEqual([]);

    hub.dispatch("t1", message("c1", 4n));
    await vi.waitFor(() => expect(checkpoints(frames)).toEqual(["cursor-2"]), { timeout: 2_000 });
    // The checkpoint comes after the events it covers, on the same ordered queue.
    const order = frames.flatMap((f) => (f.frame.case === "event" ? [`e${f.frame.value.seq}`] : f.frame.case === "checkpoint" ? ["cp"] : []));
    expect(order).toEqual(["e3", "e4", "cp"]);

    // The next one starts from the last cursor handed out, again only after activity.
    state.head = 5n;
    hub.dispatch("t1", message("c1", 5n));
    await vi.waitFor(() => expect(checkpoints(frames)).toEqual(["cursor-2", "cursor-3"]), { timeout: 2_000 });
    expect(state.cursors).toEqual(["", "", "cursor-2"]);
    session.close(0, "done");
  });

  it("keeps to the instance's checkpoint budget: a session refused a place gets its checkpoint at a later interval", async () => {
    const clock = new FakeClock(Date.now());
    // No timer-driven checkpoints here: the test calls checkpoint() as the interval would.
    const { state, hub, registry, sink } = setup({ clock, limits: { checkpointMs: undefined, checkpointsPerSec: 2 } });
    const sessions = [0, 1, 2].map(() => registry.open(sink, { clientHeartbeats: true, serverPongs: false }));
    for (const s of sessions) expect(await s.authenticate("t", 1n)).toBe(true);
    state.head = 3n;
    hub.dispatch("t1", message("c1", 3n));

    for (const s of sessions) await s.checkpoint();
    expect(state.calls).toBe(2); // a burst of two, the third refused: it asked chat nothing

    for (const s of sessions) await s.checkpoint();
    expect(state.calls).toBe(2); // still no place: the first two are idle, the third is refused

    clock.advance(500); // one place refilled
    for (const s of sessions) await s.checkpoint();
    expect(state.calls).toBe(3); // the third session's turn; the others have nothing new
    for (const s of sessions) s.close(0, "done");
  });
});
