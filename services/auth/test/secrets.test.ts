import { randomBytes } from "node:crypto";
import { newId } from "@caas/shared/ids";
import { describe, expect, it } from "vitest";
import { ADMIN_CREDENTIAL_PREFIX, API_KEY_PREFIX, apiKeyIdOf, hashCredential, newAdminCredential, newApiKeySecret, newRefreshToken, refreshTokenTenantOf, sameHash } from "../src/domain/secrets.js";
import { deriveKeyring } from "../src/keys/keyring.js";

describe("credential formats and hashing", () => {
  it("makes refresh tokens that name their tenant and differ every time", () => {
    const tenantId = newId();
    const a = newRefreshToken(tenantId);
    expect(a).toMatch(/^caas_r_[A-Za-z0-9_-]{64}$/);
    expect(newRefreshToken(tenantId)).not.toBe(a);
    expect(refreshTokenTenantOf(a)).toBe(tenantId);
    expect(refreshTokenTenantOf(`${a}x`)).toBeUndefined();
    expect(refreshTokenTenantOf(a.replace("caas_r_", "caas_k_"))).toBeUndefined();
    expect(refreshTokenTenantOf("caas_r_short")).toBeUndefined();
  });

  it("makes API key secrets that name their key and show a distinguishing prefix", () => {
    const id = newId();
    const a = newApiKeySecret(id);
    const b = newApiKeySecret(id);
    expect(a.secret).toMatch(/^caas_k_[A-Za-z0-9_-]{64}$/);
    expect(a.secret.startsWith(a.prefix)).toBe(true);
    expect(a.prefix).toHaveLength(API_KEY_PREFIX.length + 8);
    expect(a.prefix).not.toBe(b.prefix);
    expect(apiKeyIdOf(a.secret)).toBe(id);
    expect(apiKeyIdOf(`${a.secret}x`)).toBeUndefined();
    expect(apiKeyIdOf("caas_k_short")).toBeUndefined();
    expect(apiKeyIdOf(a.secret.replace(API_KEY_PREFIX, "caas_x_"))).toBeUndefined();
  });

  it("hashes with HMAC-SHA256 under a pepper: same pepper same hash, another pepper another", () => {
    const pepper = deriveKeyring(randomBytes(32)).apiKeyPepper;
    const { secret } = newApiKeySecret(newId());
    const h = hashCredential(pepper, secret);
    expect(Buffer.from(h, "base64url")).toHaveLength(32);
    expect(sameHash(h, hashCredential(pepper, secret))).toBe(true);
    expect(sameHash(h, hashCredential(pepper, `${secret}x`))).toBe(false);
    expect(sameHash(h, hashCredential(deriveKeyring(randomBytes(32)).apiKeyPepper, secret))).toBe(false);
    expect(sameHash(h, "")).toBe(false);
  });

  it("derives distinct purpose keys and makes random admin credentials", () => {
    const k = deriveKeyring(randomBytes(32));
    const all = [k.apiKeyPepper, k.adminPepper, k.signingKeyKek, k.pageTokenSecret].map((b) => b.toString("hex"));
    expect(new Set(all).size).toBe(4);
    expect(() => deriveKeyring(randomBytes(16))).toThrow(RangeError);
    const c = newAdminCredential();
    expect(c.startsWith(ADMIN_CREDENTIAL_PREFIX)).toBe(true);
    expect(c).not.toBe(newAdminCredential());
  });
});
