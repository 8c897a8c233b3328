import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { AuthEventEnvelopeSchema } from "@caas/gen/caas/events/v1/auth_events_pb.js";
import { CloseCode, type ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { AUTH_EVENTS } from "@caas/shared/eventing/topics";
import { createLogger } from "@caas/shared/logger";
import { createSqliteEventBus } from "@caas/shared/eventing/sqlite";
import { loadConfig } from "@caas/shared/config";
import { newId } from "@caas/shared/ids";
import { PeerDirectory } from "@caas/shared/clients";
import { RevocationSet, startRevocationFeed } from "@caas/shared/identity/revocations";
import { systemClock } from "@caas/shared/clock";
import type { EventBus, Subscription } from "@caas/shared/eventing/bus";
import type { JwtVerifier } from "@caas/shared/identity/jwt-verifier";
import type { ChatClient } from "../src/chat-calls.js";
import { Hub } from "../src/hub.js";
import { createSocketService } from "../src/index.js";
import { createRevocationWatch } from "../src/revocation-watch.js";
import type { FrameSink, SessionLimits } from "../src/session.js";
import { SessionRegistry } from "../src/sessions.js";

const logger = createLogger({ service: "socket-test", instance: "test", level: "silent" });
const limits: SessionLimits = { authTimeoutMs: 5_000, heartbeatMs: 60_000, maxQueuedFrames: 64, maxFrameBytes: 1024, retryAfterMs: 1_000 };

/** A real SQLite bus that records every subscription (topic and consumer group). */
function countingBus(inner: EventBus): EventBus & { groups: (topic: string) => string[] } {
  const subs: { topic: string; group: string }[] = [];
  return {
    publish: (topic, records) => inner.publish(topic, records),
    subscribe: (topic, opts, handler) => {
      subs.push({ topic: topic.name, group: opts.group });
      return inner.subscribe(topic, opts, handler);
    },
    subscribeBatches: (topic, opts, handler) => {
      subs.push({ topic: topic.name, group: opts.group });
      return inner.subscribeBatches(topic, opts, handler);
    },
    close: () => inner.close(),
    groups: (topic) => subs.filter((s) => s.topic === topic).map((s) => s.group),
  };
}

/** Tokens are "<user>.<session>", tenant t1, issued a second ago. */
const verifier: JwtVerifier = {
  async verify(token) {
    const [sub, sid] = token.split(".") as [string, string];
    const iat = Math.floor(Date.now() / 1000) - 1;
    const claims = { iss: "caas-auth", aud: "caas-api", sub, tenant: "t1", sid, device: "d1", scopes: [], roles: [], jti: token, iat, nbf: iat, exp: iat + 300 };
    return { kid: "k1", claims, acceptedUntilMs: claims.exp * 1000 };
  },
  verifyServiceToken: async () => ({ service: "x" }),
};

function sink() {
  const frames: ServerFrame[] = [];
  const s: FrameSink & { frames: ServerFrame[]; ended?: CloseCode } = { frames, write: (b) => frames.push(...b), congested: () => false, end: (code) => void (s.ended = code) };
  return s;
}

const revoked = (payload: { case: "sessionRevoked"; value: { sessionId: string; userId: string } } | { case: "userDeactivated"; value: { userId: string } }) =>
  create(AuthEventEnvelopeSchema, { eventId: newId(), tenantId: "t1", createTime: timestampNow(), payload: payload as never });

describe("the socket process reads auth events once", () => {
  const dir = mkdtempSync(join(tmpdir(), "caas-socket-auth-events-"));
  let bus: ReturnType<typeof countingBus>;
  let feed: Subscription;

  beforeAll(async () => {
    bus = countingBus(await createSqliteEventBus({ path: join(dir, "bus.db"), clock: systemClock, logger }));
  });
  afterAll(async () => {
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a started socket service adds no auth-events consumer group to the composition root's deny-set feed", async () => {
    const config = loadConfig({ CAAS_DATA_DIR: dir, CAAS_LOG_LEVEL: "silent", CAAS_INSTANCE_ID: "socket-once" });
    // As runStandalone and the embedded platform do: one deny-set per process, fed from auth events.
    const revocations = new RevocationSet(systemClock);
    feed = await startRevocationFeed({ bus, set: revocations, group: "revocations.socket.socket-once", logger });
    const socket = await createSocketService({ config, logger, clock: systemClock, peers: new PeerDirectory(), bus, revocations });
    await socket.start!();
    try {
      expect(bus.groups(AUTH_EVENTS.name)).toEqual(["revocations.socket.socket-once"]);
    } finally {
      await socket.drain!();
      await socket.close!();
      await feed.close();
    }
  });

  it("without a process deny-set (a hand-built context) the socket keeps one of its own: still one group", async () => {
    const config = loadConfig({ CAAS_DATA_DIR: dir, CAAS_LOG_LEVEL: "silent", CAAS_INSTANCE_ID: "socket-alone" });
    const before = bus.groups(AUTH_EVENTS.name).length;
    const socket = await createSocketService({ config, logger, clock: systemClock, peers: new PeerDirectory(), bus });
    await socket.start!();
    try {
      expect(bus.groups(AUTH_EVENTS.name).slice(before)).toEqual(["revocations.socket.socket-alone"]);
    } finally {
      await socket.drain!();
      await socket.close!();
    }
  });

  it("that one feed both fills the deny-set and closes the revoked sessions with REVOKED", async () => {
    const config = loadConfig({ CAAS_DATA_DIR: dir, CAAS_LOG_LEVEL: "silent", CAAS_INSTANCE_ID: "socket-kick" });
    const revocations = new RevocationSet(systemClock);
    const own = await startRevocationFeed({ bus, set: revocations, group: `revocations.socket.${config.instanceId}-${newId()}`, logger });
    const watch = createRevocationWatch({ bus, clock: systemClock, logger, config, revocations });
    const chat = { listConversations: async () => ({ conversations: [], nextPageToken: "" }) } as unknown as ChatClient;
    const registry = new SessionRegistry({ verifier, revocations: watch.revocations, chat, hub: new Hub(), clock: systemClock, logger, limits });
    await watch.start(registry);
    const open = async (token: string) => {
      const s = sink();
      const session = registry.open(s, { clientHeartbeats: true, serverPongs: false });
      expect(await session.authenticate(token, 1n)).toBe(true);
      return s;
    };
    try {
      const [a1, a2, bob] = [await open("alice.s1"), await open("alice.s2"), await open("bob.s3")];
      await bus.publish(AUTH_EVENTS, [{ key: "t1", value: revoked({ case: "sessionRevoked", value: { sessionId: "s1", userId: "alice" } }), headers: {} }]);
      await vi.waitFor(() => expect(a1.ended).toBe(CloseCode.REVOKED), { timeout: 5_000 });
      expect(a2.ended).toBeUndefined();
      expect(revocations.denies({ tenantId: "t1", userId: "alice", sessionId: "s1", kid: "k1", issuedAtSec: Math.floor(Date.now() / 1000) - 1 })).toBe(true);
      // A new connection with the revoked session's token is refused from the same set.
      const again = sink();
      expect(await registry.open(again, { clientHeartbeats: true, serverPongs: false }).authenticate("alice.s1", 1n)).toBe(false);
      expect(again.ended).toBe(CloseCode.REVOKED);
      await bus.publish(AUTH_EVENTS, [{ key: "t1", value: revoked({ case: "userDeactivated", value: { userId: "alice" } }), headers: {} }]);
      await vi.waitFor(() => expect(a2.ended).toBe(CloseCode.REVOKED), { timeout: 5_000 });
      expect(bob.ended).toBeUndefined();
      // Stopped: later revocations still reach the set, but no longer this registry.
      await watch.stop();
      await bus.publish(AUTH_EVENTS, [{ key: "t1", value: revoked({ case: "userDeactivated", value: { userId: "bob" } }), headers: {} }]);
      await vi.waitFor(() => expect(revocations.denies({ tenantId: "t1", userId: "bob", sessionId: "s3", kid: "k1", issuedAtSec: Math.floor(Date.now() / 1000) - 1 })).toBe(true), { timeout: 5_000 });
      expect(bob.ended).toBeUndefined();
    } finally {
      await watch.stop();
      await own.close();
      registry.drain();
    }
  });
});
