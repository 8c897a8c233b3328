import { describe, expect, it } from "vitest";
import { RetryBudget } from "@caas/shared/retry-budget";

describe("RetryBudget", () => {
  function budget() {
    let now = 1_000_000;
    const b = new RetryBudget({ ratio: 0.1, floor: 2, windowMs: 10_000, now: () => now });
    return { b, advance: (ms: number) => (now += ms) };
  }

  it("allows retries up to the floor plus the ratio of the first attempts admitted over the window", () => {
    const { b } = budget();
    for (let i = 0; i < 30; i++) b.admitted(false);
    // 2 + 3 retries.
    let allowed = 0;
    while (b.allows()) {
      b.admitted(true);
      allowed++;
    }
    expect(allowed).toBe(5);
    expect(b.totals()).toEqual({ first: 30, retries: 5, refused: 0 });
  });

  it("forgets what is older than the window", () => {
    const { b, advance } = budget();
    for (let i = 0; i < 30; i++) b.admitted(false);
    b.admitted(true);
    b.admitted(true);
    advance(11_000);
    expect(b.totals()).toEqual({ first: 0, retries: 0, refused: 0 });
    b.admitted(true);
    b.admitted(true);
    expect(b.allows()).toBe(false);
  });

  it("measures the retry demand's excess over what was admitted, at least 1", () => {
    const { b } = budget();
    expect(b.excess()).toBe(1);
    b.admitted(true);
    b.admitted(true);
    for (let i = 0; i < 8; i++) b.refused();
    expect(b.excess()).toBe(5);
  });
});
