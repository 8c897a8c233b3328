import { FakeClock } from "@caas/shared/clock";
import { ServiceTokenSource } from "@caas/shared/identity/service-tokens";
import { describe, expect, it } from "vitest";

describe("ServiceTokenSource (shared client helper)", () => {
  it("caches a token per audience, shares concurrent fetches and renews shortly before expiry", async () => {
    const clock = new FakeClock(1_000_000);
    const fetched: string[] = [];
    const source = new ServiceTokenSource({
      clock,
      renewBeforeMs: 60_000,
      fetch: async (audience) => {
        fetched.push(audience);
        return { token: `${audience}-${fetched.length}`, expireTimeMs: clock.nowMs() + 300_000 };
      },
    });
    const [a, b] = await Promise.all([source.token("auth"), source.token("auth")]);
    expect([a, b]).toEqual(["auth-1", "auth-1"]);
    expect(await source.token("chat")).toBe("chat-2");
    clock.advance(239_000);
    expect(await source.token("auth")).toBe("auth-1");
    clock.advance(1_000);
    expect(await source.token("auth")).toBe("auth-3");
    expect(fetched).toEqual(["auth", "chat", "auth"]);
  });

  it("does not cache a failed fetch", async () => {
    const clock = new FakeClock(0);
    let calls = 0;
    const source = new ServiceTokenSource({
      clock,
      fetch: async () => {
        calls++;
        if (calls === 1) throw new Error("auth unavailable");
        return { token: "t", expireTimeMs: 300_000 };
      },
    });
    await expect(source.token("auth")).rejects.toThrow(/unavailable/);
    expect(await source.token("auth")).toBe("t");
  });
});
