import { describe, expect, it, vi } from "vitest";
import { Code } from "@connectrpc/connect";
import { CloseCode, type ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { systemClock } from "@caas/shared/clock";
import { createLogger } from "@caas/shared/logger";
import type { JwtVerifier } from "@caas/shared/identity/jwt-verifier";
import type { ChatClient } from "../src/chat-calls.js";
import { Hub } from "../src/hub.js";
import type { FrameSink, SessionLimits } from "../src/session.js";
import { SessionRegistry } from "../src/sessions.js";

const verifier: JwtVerifier = {
  async verify(token) {
    const now = Math.floor(Date.now() / 1000);
    return {
      kid: "k1",
      acceptedUntilMs: (now + 330) * 1000,
      claims: { iss: "caas-auth", aud: "caas-api", sub: token, tenant: "t1", sid: `s-${token}`, device: "d1", scopes: [], roles: [], jti: "j", iat: now, nbf: now, exp: now + 300 },
    };
  },
  verifyServiceToken: async () => ({ service: "x" }),
};

function sink() {
  const frames: ServerFrame[] = [];
  const s: FrameSink & { frames: ServerFrame[]; ended?: CloseCode } = {
    frames,
    write: (f) => frames.push(...f),
    congested: () => false,
    end(code) {
      s.ended = code;
    },
  };
  return s;
}

/** A chat whose conversation lists answer only when the test lets them; counts those in flight. */
function heldChat() {
  const held: (() => void)[] = [];
  const chat = {
    inFlight: 0,
    most: 0,
    listConversations: () =>
      new Promise((resolve) => {
        chat.inFlight++;
        chat.most = Math.max(chat.most, chat.inFlight);
        held.push(() => {
          chat.inFlight--;
          resolve({ conversations: [], nextPageToken: "" });
        });
      }),
  };
  return { chat, releaseAll: () => held.splice(0).forEach((r) => r()) };
}

describe("authentication gate", () => {
  it("runs at most CAAS_REALTIME_MAX_CONCURRENT_AUTH authentications at once, queues the next, refuses past the queue with UNAVAILABLE and a retry delay", async () => {
    const limits: SessionLimits = { authTimeoutMs: 10_000, heartbeatMs: 60_000, maxQueuedFrames: 8, maxFrameBytes: 1024, retryAfterMs: 1_000, maxConcurrentAuth: 2, authQueue: 1 };
    const { chat, releaseAll } = heldChat();
    const logger = createLogger({ service: "socket-test", instance: "test", level: "silent" });
    const registry = new SessionRegistry({ verifier, chat: chat as unknown as ChatClient, hub: new Hub(), clock: systemClock, logger, limits });
    const sinks = [sink(), sink(), sink(), sink()];
    const results = sinks.map((s, i) => registry.open(s, { clientHeartbeats: true, serverPongs: false }).authenticate(`u${i}`, 1n));
    // The fourth is refused at once: two authenticate, one waits.
    expect(await results[3]).toBe(false);
    const refusal = sinks[3]!.frames.find((f) => f.frame.case === "error");
    expect(refusal?.frame.case === "error" && { code: refusal.frame.value.code, retry: Number(refusal.frame.value.retryAfter?.seconds ?? 0) >= 1 }).toEqual({ code: Code.Unavailable, retry: true });
    expect(sinks[3]!.ended).toBe(CloseCode.INTERNAL_ERROR);
    await vi.waitFor(() => expect(chat.inFlight).toBe(2));
    // As places come free the waiting one runs; never more than two at once.
    releaseAll();
    await vi.waitFor(() => expect(chat.inFlight).toBe(1));
    releaseAll();
    expect(await Promise.all(results.slice(0, 3))).toEqual([true, true, true]);
    expect(chat.most).toBe(2);
  });

  it("an authentication slower than the auth timeout (waiting for a place or for chat) is not closed as AUTH_TIMEOUT: that timeout is for a missing Auth frame", async () => {
    const limits: SessionLimits = { authTimeoutMs: 50, heartbeatMs: 60_000, maxQueuedFrames: 8, maxFrameBytes: 1024, retryAfterMs: 1_000, maxConcurrentAuth: 1, authQueue: 10 };
    const { chat, releaseAll } = heldChat();
    const logger = createLogger({ service: "socket-test", instance: "test", level: "silent" });
    const registry = new SessionRegistry({ verifier, chat: chat as unknown as ChatClient, hub: new Hub(), clock: systemClock, logger, limits });
    const sinks = [sink(), sink()];
    const results = sinks.map((s, i) => registry.open(s, { clientHeartbeats: true, serverPongs: false }).authenticate(`u${i}`, 1n));
    await new Promise((r) => setTimeout(r, 200));
    releaseAll();
    await vi.waitFor(() => expect(chat.inFlight).toBe(1));
    releaseAll();
    expect(await Promise.all(results)).toEqual([true, true]);
    expect(sinks.map((s) => s.ended)).toEqual([undefined, undefined]);
  });
});
