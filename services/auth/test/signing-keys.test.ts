import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { ACCESS_TOKEN_ALGORITHMS, ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_ISSUER, createJwtVerifier } from "@caas/shared/identity/jwt-verifier";
import { createLogger } from "@caas/shared/logger";
import { FakeClock } from "@caas/shared/clock";
import { UnauthenticatedError } from "@caas/shared/errors";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { openPrivateKey, sealPrivateKey, deriveKeyring } from "../src/keys/keyring.js";
import { SigningKeyManager } from "../src/keys/signing-keys.js";
import { AccessTokenIssuer } from "../src/keys/token-issuer.js";
import { sqliteInstances, type Instances } from "./support/backends.js";

const dir = mkdtempSync(join(tmpdir(), "caas-auth-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const logger = createLogger({ service: "auth-test", instance: "t", level: "silent" });
const HOUR = 3_600_000;
const subject = { tenantId: "t1", userId: "alice", sessionId: "s1", deviceId: "d1", scopes: [], roles: ["member"] };

describe("signing keys", () => {
  let s: Instances;
  let clock: FakeClock;
  const kek = deriveKeyring(randomBytes(32)).signingKeyKek;
  const manager = (o: Partial<ConstructorParameters<typeof SigningKeyManager>[0]> = {}) => new SigningKeyManager({ store: s.a.signingKeys, kek, clock, logger, reloadIntervalMs: 0, ...o });

  beforeEach(async () => {
    s = await sqliteInstances(dir)();
    clock = new FakeClock();
  });
  afterEach(async () => {
    await s.close();
  });

  it("stores private keys encrypted: no stored byte sequence is the private key, and another kek cannot open it", async () => {
    const keys = manager();
    await keys.start();
    const [stored] = await s.a.signingKeys.list();
    const opened = JSON.parse(openPrivateKey(kek, stored!.kid, stored!.encryptedPrivateKey).toString("utf8")) as { d: string };
    expect(Buffer.from(stored!.encryptedPrivateKey).toString("latin1")).not.toContain(opened.d);
    expect(stored!.publicJwk).not.toContain(opened.d);
    expect(() => openPrivateKey(deriveKeyring(randomBytes(32)).signingKeyKek, stored!.kid, stored!.encryptedPrivateKey)).toThrow();
    // The ciphertext is bound to its kid.
    expect(() => openPrivateKey(kek, "another-kid", stored!.encryptedPrivateKey)).toThrow();
    expect(() => openPrivateKey(kek, "k", sealPrivateKey(kek, "k", Buffer.from("x")))).not.toThrow();
  });

  it("rotates after the period, publishes the successor before it signs, and keeps the old key until its tokens expire", async () => {
    const keys = manager({ rotationPeriodMs: HOUR, publishLeadMs: 30_000, tokenLifetimeMs: 300_000, clockSkewMs: 30_000 });
    const issuer = new AccessTokenIssuer({ keys, clock });
    const verifier = createJwtVerifier({
      jwksProvider: () => keys.jwks(),
      issuer: ACCESS_TOKEN_ISSUER,
      audience: ACCESS_TOKEN_AUDIENCE,
      algorithms: ACCESS_TOKEN_ALGORITHMS,
      clock,
      maxAgeMs: 0,
    });
    const first = await issuer.issue(subject);
    const kid1 = decodeProtectedHeader(first.token).kid!;
    expect((await keys.jwks()).keys.map((k) => k.kid)).toEqual([kid1]);

    clock.advance(HOUR);
    const stillOld = await issuer.issue(subject); // rotation due: a successor is published, not yet used
    expect(decodeProtectedHeader(stillOld.token).kid).toBe(kid1);
    const published = (await keys.jwks()).keys.map((k) => k.kid);
    expect(published).toHaveLength(2);
    const kid2 = published.find((k) => k !== kid1)!;

    clock.advance(30_000);
    const fresh = await issuer.issue(subject);
    expect(decodeProtectedHeader(fresh.token).kid).toBe(kid2);
    // A token of the old key, issued just before the switch, still verifies until it expires.
    expect((await verifier.verify(stillOld.token)).kid).toBe(kid1);
    expect((await keys.jwks()).keys.map((k) => k.kid).sort()).toEqual([kid1, kid2].sort());

    clock.advance(330_000); // successor's activation + lifetime + skew
    const newest = await issuer.issue(subject);
    expect((await keys.jwks()).keys.map((k) => k.kid)).toEqual([kid2]);
    expect((await s.b.signingKeys.list()).map((k) => k.kid)).toEqual([kid2]);
    await expect(verifier.verify(stillOld.token)).rejects.toBeInstanceOf(UnauthenticatedError);
    expect((await verifier.verify(newest.token)).claims).toMatchObject({ sub: "alice", tenant: "t1", sid: "s1", device: "d1", roles: ["member"] });
  });

  it("shares keys between instances: a token signed by one verifies against the other's JWKS", async () => {
    const a = manager();
    await a.start();
    const b = new SigningKeyManager({ store: s.b.signingKeys, kek, clock, logger, reloadIntervalMs: 0 });
    await b.start();
    expect((await b.jwks()).keys).toEqual((await a.jwks()).keys);
    const token = (await new AccessTokenIssuer({ keys: a, clock }).issue(subject)).token;
    const { payload } = await jwtVerify(token, createLocalJWKSet(await b.jwks()), { currentDate: clock.now() });
    expect(payload.sub).toBe("alice");
    expect(payload.exp! - payload.iat!).toBe(300);
    expect(payload.nbf).toBe(payload.iat);
  });

  it("replaces a key it cannot decrypt (another root key) instead of signing with it", async () => {
    const first = manager();
    const undecryptable = (await first.signer()).kid;
    const other = new SigningKeyManager({ store: s.b.signingKeys, kek: deriveKeyring(randomBytes(32)).signingKeyKek, clock, logger, reloadIntervalMs: 0 });
    const signer = await other.signer();
    const stored = (await s.a.signingKeys.list()).map((k) => k.kid);
    expect(stored).toHaveLength(2);
    expect(stored).toContain(signer.kid);
    expect(signer.kid).not.toBe(undecryptable);
    // Both are published, so tokens of either verify; each instance signs with a key it can open.
    expect((await other.jwks()).keys.map((k) => k.kid).sort()).toEqual([...stored].sort());
  });
});
