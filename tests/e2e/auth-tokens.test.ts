import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createHmac, generateKeyPairSync } from "node:crypto";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { decodeProtectedHeader, exportJWK, importJWK, SignJWT, type JWK } from "jose";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "@caas/gen/grpc/health/v1/health_pb.js";
import { ACCESS_TOKEN_ALGORITHMS, ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_ISSUER, createJwtVerifier, JWKS_PATH, type JwtVerifier } from "@caas/shared/identity/jwt-verifier";
import { FakeClock, systemClock, type Clock } from "@caas/shared/clock";
import { UnauthenticatedError } from "@caas/shared/errors";

const platform = inject("embedded");
const auth = platform.endpoints.auth!;
const chat = platform.endpoints.chat!;
const adminCredential = readFileSync(join(platform.dataDir, "admin-credential"), "utf8").trim();

function transport(baseUrl: string, credential?: string) {
  const bearer: Interceptor = (next) => (req) => {
    if (credential !== undefined) req.header.set("authorization", `Bearer ${credential}`);
    return next(req);
  };
  return createGrpcTransport({ baseUrl, interceptors: [bearer] });
}

/** The shared verifier pointed at the running auth service's published keys. */
function platformVerifier(clock: Clock = systemClock): JwtVerifier {
  return createJwtVerifier({
    jwksUrl: `${auth}${JWKS_PATH}`,
    issuer: ACCESS_TOKEN_ISSUER,
    audience: ACCESS_TOKEN_AUDIENCE,
    algorithms: ACCESS_TOKEN_ALGORITHMS,
    clock,
  });
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
const parts = (token: string) => token.split(".") as [string, string, string];
const payloadOf = (token: string) => JSON.parse(Buffer.from(parts(token)[1], "base64url").toString("utf8")) as Record<string, unknown>;

/** An Ed25519 key of some other issuer, and a way to sign arbitrary tokens with it. */
async function foreignSigner() {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const jwk: JWK = await exportJWK(publicKey);
  const key = await importJWK({ ...(privateKey.export({ format: "jwk" }) as JWK), alg: "EdDSA" }, "EdDSA");
  return {
    publicJwk: jwk,
    sign: (claims: Record<string, unknown>, header: Record<string, unknown>) => new SignJWT(claims).setProtectedHeader({ alg: "EdDSA", typ: "at+jwt", ...header }).sign(key),
  };
}

describe("access tokens: every negative against the shared verifier and over the network", () => {
  let real: string;
  let kid: string;
  let claims: Record<string, unknown>;

  beforeAll(async () => {
    const admin = createClient(TenantAdminService, transport(auth, adminCredential));
    const { tenant } = await admin.createTenant({ name: "tokens" });
    const { secret } = await admin.createApiKey({ tenantId: tenant!.id, name: "k" });
    const backend = createClient(UserAdminService, transport(auth, secret));
    await backend.upsertUser({ userId: "alice", displayName: "Alice", roles: ["member"] });
    real = (await backend.issueUserToken({ userId: "alice", deviceId: "phone" })).tokens!.accessToken;
    kid = decodeProtectedHeader(real).kid!;
    claims = payloadOf(real);
  });

  /** Refused by the verifier, by another service (chat) and by auth itself: UNAUTHENTICATED. */
  async function refusedEverywhere(token: string, reason?: RegExp) {
    const err = await platformVerifier()
      .verify(token)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(UnauthenticatedError);
    if (reason) expect((err as Error).message).toMatch(reason);
    for (const base of [chat, auth]) {
      const res = await createClient(Health, transport(base, token))
        .check({ service: "" })
        .then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        );
      expect(res?.code, base).toBe(Code.Unauthenticated);
    }
  }

  it("accepts the real token everywhere (the control)", async () => {
    const { claims: verified, kid: used } = await platformVerifier().verify(real);
    expect(used).toBe(kid);
    expect(verified).toMatchObject({ sub: "alice", iss: ACCESS_TOKEN_ISSUER, aud: ACCESS_TOKEN_AUDIENCE, device: "phone", roles: ["member"] });
    for (const base of [chat, auth]) {
      expect((await createClient(Health, transport(base, real)).check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    }
    // No credential at all stays anonymous.
    expect((await createClient(Health, transport(chat)).check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  it("refuses alg none", async () => {
    const [, payload] = parts(real);
    await refusedEverywhere(`${b64({ alg: "none", typ: "at+jwt", kid })}.${payload}.`, /algorithm/);
    await refusedEverywhere(`${b64({ alg: "none", typ: "at+jwt", kid })}.${payload}.${parts(real)[2]}`, /algorithm/);
  });

  it("refuses HS256 signed with the public key", async () => {
    const jwks = (await (await fetch(`${auth}${JWKS_PATH}`)).json()) as { keys: JWK[] };
    const pub = jwks.keys.find((k) => k.kid === kid)!;
    const head = b64({ alg: "HS256", typ: "at+jwt", kid });
    const [, payload] = parts(real);
    for (const secret of [Buffer.from(pub.x!, "base64url"), Buffer.from(JSON.stringify(pub)), Buffer.from(pub.x!)]) {
      const sig = createHmac("sha256", secret).update(`${head}.${payload}`).digest("base64url");
      await refusedEverywhere(`${head}.${payload}.${sig}`, /algorithm/);
    }
  });

  it("refuses a tampered payload", async () => {
    const [head, , sig] = parts(real);
    await refusedEverywhere(`${head}.${b64({ ...claims, tenant: "another-tenant" })}.${sig}`, /signature/);
    await refusedEverywhere(`${head}.${b64({ ...claims, roles: ["admin"] })}.${sig}`, /signature/);
  });

  it("refuses an unknown kid and a token signed by another issuer's key, even under the real kid", async () => {
    const other = await foreignSigner();
    await refusedEverywhere(await other.sign(claims, { kid: "no-such-kid" }), /unknown/);
    await refusedEverywhere(await other.sign(claims, { kid }), /signature/);
    await refusedEverywhere(await other.sign(claims, {}), /key id/);
  });

  it("refuses expired tokens and tokens not valid yet (the verifier's injected clock)", async () => {
    const exp = (claims.exp as number) * 1000;
    const later = new FakeClock(exp + 31_000);
    await expect(platformVerifier(later).verify(real)).rejects.toThrow(/expired/);
    // Within the 30 s tolerance it still passes.
    await expect(platformVerifier(new FakeClock(exp + 10_000)).verify(real)).resolves.toBeDefined();
    const earlier = new FakeClock((claims.nbf as number) * 1000 - 60_000);
    await expect(platformVerifier(earlier).verify(real)).rejects.toThrow(/nbf|iat/);
  });

  describe("claims checks, with a verifier trusting a test key", () => {
    let signer: Awaited<ReturnType<typeof foreignSigner>>;
    let verifier: JwtVerifier;
    const clock = new FakeClock(Date.UTC(2030, 0, 1));
    const now = Math.floor(clock.nowMs() / 1000);
    const good = () => ({
      iss: ACCESS_TOKEN_ISSUER,
      aud: ACCESS_TOKEN_AUDIENCE,
      sub: "u",
      tenant: "t1",
      sid: "s",
      device: "d",
      scopes: [],
      roles: [],
      jti: "j",
      iat: now,
      nbf: now,
      exp: now + 300,
    });

    beforeAll(async () => {
      signer = await foreignSigner();
      verifier = createJwtVerifier({
        jwksProvider: async () => ({ keys: [{ ...signer.publicJwk, kid: "test", alg: "EdDSA", use: "sig" }] }),
        issuer: ACCESS_TOKEN_ISSUER,
        audience: ACCESS_TOKEN_AUDIENCE,
        algorithms: ACCESS_TOKEN_ALGORITHMS,
        clock,
      });
    });

    it("accepts a well-formed token (the control)", async () => {
      expect((await verifier.verify(await signer.sign(good(), { kid: "test" }))).claims.sub).toBe("u");
    });

    it.each([
      ["wrong aud", { aud: "someone-else" }, /aud/],
      ["wrong iss", { iss: "https://evil.example" }, /iss/],
      ["expired", { iat: now - 400, nbf: now - 400, exp: now - 100 }, /expired/],
      ["nbf in the future", { nbf: now + 120 }, /nbf/],
      ["iat in the future", { iat: now + 120, exp: now + 400 }, /iat/],
      ["lifetime over 5 minutes", { exp: now + 3600 }, /lifetime/],
      ["no sid", { sid: undefined }, /claims/],
      ["no tenant", { tenant: undefined }, /claims/],
    ])("refuses %s", async (_name, change, reason) => {
      await expect(verifier.verify(await signer.sign({ ...good(), ...change }, { kid: "test" }))).rejects.toThrow(reason);
    });

    it("refuses a token whose typ is not at+jwt", async () => {
      await expect(verifier.verify(await signer.sign(good(), { kid: "test", typ: "JWT" }))).rejects.toThrow(/not an access token/);
    });

    it("refetches the keys on an unknown kid at most once per cooldown", async () => {
      let fetches = 0;
      const c = new FakeClock();
      const v = createJwtVerifier({
        jwksProvider: async () => {
          fetches++;
          return { keys: [{ ...signer.publicJwk, kid: "test", alg: "EdDSA", use: "sig" }] };
        },
        issuer: ACCESS_TOKEN_ISSUER,
        audience: ACCESS_TOKEN_AUDIENCE,
        algorithms: ACCESS_TOKEN_ALGORITHMS,
        clock: c,
        refetchCooldownMs: 10_000,
      });
      const t = Math.floor(c.nowMs() / 1000);
      const unknown = await signer.sign({ ...good(), iat: t, nbf: t, exp: t + 300 }, { kid: "other" });
      for (let i = 0; i < 5; i++) await expect(v.verify(unknown)).rejects.toThrow(/unknown/);
      expect(fetches).toBe(1);
      c.advance(10_000);
      await expect(v.verify(unknown)).rejects.toThrow(/unknown/);
      expect(fetches).toBe(2);
    });
  });
});
