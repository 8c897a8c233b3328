import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { FakeClock } from "../src/clock.js";
import { ACCESS_TOKEN_ALGORITHMS, ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_ISSUER, ACCESS_TOKEN_TYPE, createJwtVerifier } from "../src/auth/jwt-verifier.js";

/** The verified-token cache: the same token is not verified twice, and nothing it remembers outlives a check. */
describe("JwtVerifier: verified tokens are remembered, never beyond their validity or their key", () => {
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
  let publicJwk: JWK;
  beforeAll(async () => {
    const pair = await generateKeyPair("EdDSA", { extractable: true });
    privateKey = pair.privateKey;
    publicJwk = await exportJWK(pair.publicKey);
  });
  afterEach(() => vi.restoreAllMocks());

  const setup = (cacheSize?: number) => {
    const clock = new FakeClock(Date.UTC(2030, 0, 1));
    const keys = { current: [{ ...publicJwk, kid: "k1", alg: "EdDSA", use: "sig" }] };
    const verifier = createJwtVerifier({
      jwksProvider: async () => ({ keys: keys.current }),
      issuer: ACCESS_TOKEN_ISSUER,
      audience: ACCESS_TOKEN_AUDIENCE,
      algorithms: ACCESS_TOKEN_ALGORITHMS,
      clock,
      maxAgeMs: 60_000,
      ...(cacheSize === undefined ? {} : { verifiedCacheSize: cacheSize }),
    });
    const now = Math.floor(clock.nowMs() / 1000);
    const sign = (claims: Record<string, unknown> = {}) =>
      new SignJWT({ tenant: "t1", sid: "s", device: "d", scopes: [], roles: [], ...claims })
        .setProtectedHeader({ alg: "EdDSA", typ: ACCESS_TOKEN_TYPE, kid: "k1" })
        .setIssuer(ACCESS_TOKEN_ISSUER)
        .setAudience(ACCESS_TOKEN_AUDIENCE)
        .setSubject("u")
        .setJti("j")
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + 300)
        .sign(privateKey);
    return { clock, keys, verifier, sign };
  };

  it("checks a signature once per token, and again for another token", async () => {
    const { verifier, sign } = setup();
    const spy = vi.spyOn(globalThis.crypto.subtle, "verify");
    const a = await sign();
    for (let i = 0; i < 5; i++) expect((await verifier.verify(a)).claims.sub).toBe("u");
    expect(spy).toHaveBeenCalledTimes(1);
    await verifier.verify(await sign({ sid: "s2" }));
    expect(spy).toHaveBeenCalledTimes(2);
  });

  it("verifies every time with the cache off", async () => {
    const { verifier, sign } = setup(0);
    const spy = vi.spyOn(globalThis.crypto.subtle, "verify");
    const a = await sign();
    for (let i = 0; i < 3; i++) await verifier.verify(a);
    expect(spy).toHaveBeenCalledTimes(3);
  });

  it("refuses a remembered token once it expires (with the clock tolerance)", async () => {
    const { clock, verifier, sign } = setup();
    const a = await sign();
    await verifier.verify(a);
    clock.advance(300_000 + 29_000);
    await expect(verifier.verify(a)).resolves.toBeDefined();
    clock.advance(2_000);
    await expect(verifier.verify(a)).rejects.toThrow(/expired/);
  });

  it("refuses a remembered token once its key is no longer published", async () => {
    const { clock, keys, verifier, sign } = setup();
    const a = await sign();
    await verifier.verify(a);
    keys.current = [];
    clock.advance(61_000); // past maxAgeMs: the keys are fetched again and k1 is gone
    await expect(verifier.verify(a)).rejects.toThrow(/signing key is unknown/);
  });

  it("remembers a token for one typ and audience only: the same bytes as a service token are checked in full", async () => {
    const { verifier, sign } = setup();
    const a = await sign();
    await verifier.verify(a);
    await expect(verifier.verifyServiceToken(a, "chat")).rejects.toThrow(/not a service token/);
  });

  it("keeps at most the configured number of tokens, least recently used out first", async () => {
    const { verifier, sign } = setup(2);
    const spy = vi.spyOn(globalThis.crypto.subtle, "verify");
    const [a, b, c] = [await sign({ sid: "a" }), await sign({ sid: "b" }), await sign({ sid: "c" })];
    await verifier.verify(a);
    await verifier.verify(b);
    await verifier.verify(a); // a is now the most recent
    await verifier.verify(c); // evicts b
    expect(spy).toHaveBeenCalledTimes(3);
    await verifier.verify(a);
    expect(spy).toHaveBeenCalledTimes(3);
    await verifier.verify(b);
    expect(spy).toHaveBeenCalledTimes(4);
  });
});
