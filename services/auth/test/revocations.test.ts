import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { AuthEventEnvelopeSchema } from "@caas/gen/caas/events/v1/auth_events_pb.js";
import { FakeClock } from "@caas/shared/clock";
import { REVOCATION_TTL_MS, RevocationSet, revocationsOf, type TokenFacts } from "@caas/shared/identity/revocations";
import { describe, expect, it } from "vitest";

const T0 = Date.UTC(2030, 0, 1, 12);
const token = (o: Partial<TokenFacts> = {}): TokenFacts => ({ tenantId: "t1", userId: "alice", sessionId: "s1", kid: "k1", issuedAtSec: T0 / 1000 - 60, ...o });

describe("the verifiers' deny-set (shared RevocationSet)", () => {
  it("denies tokens of a revoked session, user, tenant or signing key issued up to the revocation, and nothing else", () => {
    const clock = new FakeClock(T0);
    const set = new RevocationSet(clock);
    const at = (kind: "session" | "user" | "tenant" | "signing-key", tenantId: string, subjectId: string) =>
      set.add({ kind, tenantId, subjectId, revokeTimeMs: T0, expireTimeMs: T0 + REVOCATION_TTL_MS });
    expect(set.denies(token())).toBe(false);
    at("session", "t1", "s1");
    expect(set.denies(token())).toBe(true);
    expect(set.denies(token({ sessionId: "s2" }))).toBe(false);
    expect(set.denies(token({ tenantId: "t2" }))).toBe(false);
    // Issued after the revocation (a later second): not denied.
    expect(set.denies(token({ issuedAtSec: T0 / 1000 + 1 }))).toBe(false);
    expect(set.denies(token({ issuedAtSec: T0 / 1000 }))).toBe(true);
    at("user", "t1", "bob");
    expect(set.denies(token({ userId: "bob", sessionId: "s9" }))).toBe(true);
    expect(set.denies(token({ tenantId: "t2", userId: "bob", sessionId: "s9" }))).toBe(false);
    at("tenant", "t3", "");
    expect(set.denies(token({ tenantId: "t3", sessionId: "x", userId: "y" }))).toBe(true);
    at("signing-key", "", "bad-kid");
    expect(set.denies(token({ tenantId: "t9", sessionId: "x", kid: "bad-kid" }))).toBe(true);
  });

  it("forgets entries once no token they match can be unexpired, and ignores expired ones", () => {
    const clock = new FakeClock(T0);
    const set = new RevocationSet(clock);
    set.add({ kind: "session", tenantId: "t1", subjectId: "s1", revokeTimeMs: T0, expireTimeMs: T0 + REVOCATION_TTL_MS });
    set.add({ kind: "session", tenantId: "t1", subjectId: "old", revokeTimeMs: T0 - 10 * 60_000, expireTimeMs: T0 - 1 });
    expect(set.size).toBe(1);
    clock.advance(REVOCATION_TTL_MS);
    expect(set.denies(token())).toBe(false);
    set.add({ kind: "user", tenantId: "t1", subjectId: "z", revokeTimeMs: clock.nowMs(), expireTimeMs: clock.nowMs() + REVOCATION_TTL_MS });
    expect(set.size).toBe(1);
  });

  it("keeps the later of two revocations of one subject", () => {
    const clock = new FakeClock(T0);
    const set = new RevocationSet(clock);
    set.add({ kind: "user", tenantId: "t1", subjectId: "alice", revokeTimeMs: T0, expireTimeMs: T0 + REVOCATION_TTL_MS });
    set.add({ kind: "user", tenantId: "t1", subjectId: "alice", revokeTimeMs: T0 - 5000, expireTimeMs: T0 - 5000 + REVOCATION_TTL_MS });
    expect(set.denies(token({ issuedAtSec: T0 / 1000 - 1 }))).toBe(true);
  });

  it("reads the entries from auth event envelopes, at the envelope's create time", () => {
    const env = (payload: Parameters<typeof create<typeof AuthEventEnvelopeSchema>>[1]) => create(AuthEventEnvelopeSchema, { tenantId: "t1", createTime: timestampFromMs(T0), ...payload });
    const one = (e: ReturnType<typeof env>) => revocationsOf(e).map((r) => [r.kind, r.tenantId, r.subjectId, r.revokeTimeMs, r.expireTimeMs - r.revokeTimeMs]);
    expect(one(env({ payload: { case: "sessionRevoked", value: { sessionId: "s1", userId: "alice" } } }))).toEqual([["session", "t1", "s1", T0, REVOCATION_TTL_MS]]);
    expect(one(env({ payload: { case: "userDeactivated", value: { userId: "alice" } } }))).toEqual([["user", "t1", "alice", T0, REVOCATION_TTL_MS]]);
    expect(one(env({ payload: { case: "userDeleted", value: { userId: "bob" } } }))).toEqual([["user", "t1", "bob", T0, REVOCATION_TTL_MS]]);
    expect(one(env({ payload: { case: "tenantSuspended", value: {} } }))).toEqual([["tenant", "t1", "", T0, REVOCATION_TTL_MS]]);
    expect(one(env({ tenantId: "", payload: { case: "signingKeyRotated", value: { kid: "new", revokedKids: ["a", "b"] } } }))).toEqual([
      ["signing-key", "", "a", T0, REVOCATION_TTL_MS],
      ["signing-key", "", "b", T0, REVOCATION_TTL_MS],
    ]);
    expect(revocationsOf(env({ payload: { case: "tenantResumed", value: {} } }))).toEqual([]);
    expect(revocationsOf(env({ payload: { case: "userReactivated", value: { userId: "a" } } }))).toEqual([]);
    expect(revocationsOf(env({ payload: { case: "apiKeyRevoked", value: { apiKeyId: "k" } } }))).toEqual([]);
    expect(revocationsOf(create(AuthEventEnvelopeSchema, { tenantId: "t1", payload: { case: "tenantSuspended", value: {} } }))).toEqual([]);
  });
});
