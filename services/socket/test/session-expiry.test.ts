import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it, vi } from "vitest";
import { CloseCode, type ServerFrame } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { ACCESS_TOKEN_ALGORITHMS, ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_ISSUER, ACCESS_TOKEN_TYPE, createJwtVerifier } from "@caas/shared/identity/jwt-verifier";
import { createLogger } from "@caas/shared/logger";
import { createPrincipalResolver } from "@caas/shared/identity/principal-resolver";
import { FakeClock } from "@caas/shared/clock";
import type { ChatClient } from "../src/chat-calls.js";
import { Hub } from "../src/hub.js";
import type { FrameSink, SessionLimits } from "../src/session.js";
import { SessionRegistry } from "../src/sessions.js";

const limits: SessionLimits = { authTimeoutMs: 5_000, heartbeatMs: 60_000, maxQueuedFrames: 8, maxFrameBytes: 1024, retryAfterMs: 1_000 };
const TOLERANCE_SEC = 30;

/*
 * One rule for how long an access token is good, RPCs and realtime alike: the real verifier
 * accepts a token until exp plus its clock tolerance, and a realtime session authenticated with
 * it stays open until then (it used to get AuthOk and be closed at once as expired).
 */
describe("a token past exp but inside the clock tolerance", async () => {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "EdDSA", use: "sig" };
  const issuedAt = Math.floor(Date.UTC(2030, 0, 1) / 1000);
  const token = await new SignJWT({ tenant: "t1", sid: "s1", device: "d1", scopes: [], roles: [] })
    .setProtectedHeader({ alg: "EdDSA", typ: ACCESS_TOKEN_TYPE, kid: "k1" })
    .setIssuer(ACCESS_TOKEN_ISSUER)
    .setAudience(ACCESS_TOKEN_AUDIENCE)
    .setSubject("bob")
    .setJti("j1")
    .setIssuedAt(issuedAt)
    .setNotBefore(issuedAt)
    .setExpirationTime(issuedAt + 300)
    .sign(privateKey);
  // 10 s after exp: inside the 30 s tolerance.
  const clock = new FakeClock((issuedAt + 310) * 1000);
  const verifier = createJwtVerifier({
    jwksProvider: async () => ({ keys: [jwk] }),
    issuer: ACCESS_TOKEN_ISSUER,
    audience: ACCESS_TOKEN_AUDIENCE,
    algorithms: ACCESS_TOKEN_ALGORITHMS,
    clock,
    clockToleranceSec: TOLERANCE_SEC,
  });

  it("is accepted on an RPC, until exp plus the tolerance", async () => {
    expect((await verifier.verify(token)).acceptedUntilMs).toBe((issuedAt + 300 + TOLERANCE_SEC) * 1000);
    const resolver = createPrincipalResolver({ verifier });
    const principal = await resolver.resolve(new Headers({ authorization: `Bearer ${token}` }));
    expect(principal).toMatchObject({ kind: "user", userId: "bob", tenantId: "t1" });
  });

  it("opens a realtime session that is not closed as expired at once", async () => {
    const chat = { listConversations: async () => ({ conversations: [], nextPageToken: "" }) } as unknown as ChatClient;
    const registry = new SessionRegistry({ verifier, chat, hub: new Hub(), clock, logger: createLogger({ service: "socket-test", instance: "test", level: "silent" }), limits });
    const frames: ServerFrame[] = [];
    let ended: CloseCode | undefined;
    const sink: FrameSink = {
      write: (batch) => frames.push(...batch),
      congested: () => false,
      end(code) {
        ended = code;
      },
    };
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const session = registry.open(sink, { clientHeartbeats: true, serverPongs: false });
      expect(await session.authenticate(token, 1n)).toBe(true);
      await new Promise((r) => setImmediate(r));
      expect(frames.some((f) => f.frame.case === "authOk")).toBe(true);
      await vi.advanceTimersByTimeAsync(19_000);
      expect(ended).toBeUndefined();
      await vi.advanceTimersByTimeAsync(2_000);
      expect(ended).toBe(CloseCode.TOKEN_EXPIRED);
    } finally {
      vi.useRealTimers();
    }
  });
});
