import { describe, expect, it } from "vitest";
import { hashPassword, OWASP_SCRYPT, verifyPassword } from "../src/domain/passwords.js";

describe("password hashing (scrypt)", () => {
  it("uses the OWASP parameters by default, a fresh salt each time, and verifies", async () => {
    const a = await hashPassword("correct horse battery staple");
    const b = await hashPassword("correct horse battery staple");
    expect(a).toMatch(new RegExp(`^scrypt\\$${OWASP_SCRYPT.N}\\$8\\$1\\$[A-Za-z0-9_-]{22}\\$[A-Za-z0-9_-]{43}$`));
    expect(a).not.toBe(b);
    expect(await verifyPassword("correct horse battery staple", a)).toBe(true);
    expect(await verifyPassword("correct horse battery stapler", a)).toBe(false);
  });

  it("reads the parameters from the stored hash and refuses malformed hashes", async () => {
    const small = await hashPassword("pw", { N: 1024, r: 8, p: 1 });
    expect(small.startsWith("scrypt$1024$8$1$")).toBe(true);
    expect(await verifyPassword("pw", small)).toBe(true);
    expect(await verifyPassword("pw", small.replace("scrypt$", "bcrypt$"))).toBe(false);
    expect(await verifyPassword("pw", "")).toBe(false);
    // Unicode is compared after NFKC normalization.
    const composed = await hashPassword("caf\u00e9", { N: 1024, r: 8, p: 1 });
    expect(await verifyPassword("cafe\u0301", composed)).toBe(true);
  });
});
