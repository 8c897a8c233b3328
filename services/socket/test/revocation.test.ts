import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { CloseCode, type ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { createLogger } from "@caas/shared/logger";
import { RevocationSet } from "@caas/shared/identity/revocations";
import { systemClock } from "@caas/shared/clock";
import { UnauthenticatedError } from "@caas/shared/errors";
import type { JwtVerifier } from "@caas/shared/identity/jwt-verifier";
import type { ChatClient } from "../src/chat-calls.js";
import { Hub } from "../src/hub.js";
import type { FrameSink, SessionLimits } from "../src/session.js";
import { SessionRegistry } from "../src/sessions.js";

const limits: SessionLimits = { authTimeoutMs: 5_000, heartbeatMs: 60_000, maxQueuedFrames: 64, maxFrameBytes: 1024, retryAfterMs: 1_000 };
const nowSec = () => Math.floor(Date.now() / 1000);

/** Tokens are "<user>.<session>[.<expiry offset sec>]", tenant t1, issued a second ago. */
const verifier: JwtVerifier = {
  async verify(token) {
    const [sub, sid, ttl] = token.split(".");
    if (!sub || !sid) throw new UnauthenticatedError("access token is malformed");
    const iat = nowSec() - 1;
    const claims = { iss: "caas-auth", aud: "caas-api", sub, tenant: "t1", sid, device: "d1", scopes: [], roles: [], jti: token, iat, nbf: iat, exp: iat + Number(ttl ?? 300) };
    return { kid: "k1", claims, acceptedUntilMs: claims.exp * 1000 };
  },
  verifyServiceToken: async () => ({ service: "x" }),
};

function sink() {
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

function registry() {
  const chat = { listConversations: async () => ({ conversations: [], nextPageToken: "" }) } as unknown as ChatClient;
  return new SessionRegistry({ verifier, chat, hub: new Hub(), clock: systemClock, logger: createLogger({ service: "socket-test", instance: "test", level: "silent" }), limits });
}

async function open(reg: SessionRegistry, token: string) {
  const s = sink();
  const session = reg.open(s, { clientHeartbeats: true, serverPongs: false });
  expect(await session.authenticate(token, 1n)).toBe(true);
  return { session, sink: s };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("revocation and re-auth in the session core", () => {
  it("closes with REVOKED exactly the sessions a revocation matches", async () => {
    const reg = registry();
    const a1 = await open(reg, "alice.s1");
    const a2 = await open(reg, "alice.s2");
    const bob = await open(reg, "bob.s3");
    const set = new RevocationSet(systemClock);
    set.add({ kind: "session", tenantId: "t1", subjectId: "s1", revokeTimeMs: Date.now(), expireTimeMs: Date.now() + 60_000 });
    expect(reg.closeRevoked(set)).toBe(1);
    expect(a1.sink.ended).toBe(CloseCode.REVOKED);
    expect(a1.sink.frames.at(-1)?.frame).toMatchObject({ case: "closing", value: { code: CloseCode.REVOKED } });
    set.add({ kind: "user", tenantId: "t1", subjectId: "alice", revokeTimeMs: Date.now(), expireTimeMs: Date.now() + 60_000 });
    expect(reg.closeRevoked(set)).toBe(1);
    expect(a2.sink.ended).toBe(CloseCode.REVOKED);
    expect(bob.sink.ended).toBeUndefined();
    expect(reg.size).toBe(1);
  });

  it("does not close a session whose token was issued after the revocation", async () => {
    const reg = registry();
    const a = await open(reg, "alice.s1");
    const set = new RevocationSet(systemClock);
    set.add({ kind: "session", tenantId: "t1", subjectId: "s1", revokeTimeMs: Date.now() - 10_000, expireTimeMs: Date.now() + 60_000 });
    expect(reg.closeRevoked(set)).toBe(0);
    expect(a.sink.ended).toBeUndefined();
  });

  it("re-auth with the same user and session answers AuthOk with the later expiry", async () => {
    const reg = registry();
    const a = await open(reg, "alice.s1.60");
    const reply = await a.session.reauth(2n, "alice.s1.600");
    expect(reply.frame.case).toBe("authOk");
    await tick();
    const oks = a.sink.frames.filter((f) => f.frame.case === "authOk");
    expect(oks.map((f) => f.replyTo)).toEqual([1n, 2n]);
    expect(a.session.who?.accessToken).toBe("alice.s1.600");
    expect(a.sink.ended).toBeUndefined();
  });

  it("re-auth with another user's or session's token: FrameError PERMISSION_DENIED, then AUTH_FAILED", async () => {
    for (const token of ["bob.s1", "alice.s9"]) {
      const reg = registry();
      const a = await open(reg, "alice.s1");
      const reply = await a.session.reauth(2n, token);
      expect(reply.frame).toMatchObject({ case: "error", value: { code: Code.PermissionDenied } });
      expect(a.sink.ended).toBe(CloseCode.AUTH_FAILED);
      expect(a.sink.frames.map((f) => f.frame.case).slice(-2)).toEqual(["error", "closing"]);
    }
  });
});
