import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TimerWheel } from "../src/timer-wheel.js";

describe("TimerWheel", () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "Date"] }));
  afterEach(() => vi.useRealTimers());

  it("calls every member about once per period, spread over the period, with one timer for all", () => {
    const calls = new Map<number, number[]>();
    const wheel = new TimerWheel<number>(1_600, (m) => calls.set(m, [...(calls.get(m) ?? []), Date.now()]));
    const t0 = Date.now();
    for (let m = 0; m < 200; m++) wheel.add(m);
    expect(vi.getTimerCount()).toBe(1);

    vi.advanceTimersByTime(1_600);
    // Within one period every member was called once (its first call at a random point of it).
    expect([...calls.values()].map((c) => c.length)).toEqual(Array(200).fill(1));
    const firstAt = new Set([...calls.values()].map((c) => c[0]! - t0));
    expect(firstAt.size).toBeGreaterThan(8); // not all in one tick: spread over the 16 groups

    vi.advanceTimersByTime(16_000);
    for (const c of calls.values()) {
      expect(c.length).toBe(11);
      // Never more often than once per period.
      for (let i = 1; i < c.length; i++) expect(c[i]! - c[i - 1]!).toBe(1_600);
    }
  });

  it("stops calling a removed member, and stops its timer once empty", () => {
    const called: string[] = [];
    const wheel = new TimerWheel<string>(100, (m) => called.push(m));
    const a = wheel.add("a");
    const b = wheel.add("b");
    wheel.remove("a", a);
    wheel.remove("a", a); // again: ignored
    // A period of 100 ms is 16 ticks of 7 ms (rounded up, never more often than once per period).
    vi.advanceTimersByTime(112);
    expect(called).toEqual(["b"]);
    wheel.remove("b", b);
    expect(wheel.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1_000);
    expect(called).toEqual(["b"]);
  });

  it("lets a member leave during its own call (a heartbeat that closes its session)", () => {
    const groups = new Map<string, number>();
    const called: string[] = [];
    const wheel = new TimerWheel<string>(16, (m) => {
      called.push(m);
      wheel.remove(m, groups.get(m)!);
    });
    for (const m of ["a", "b", "c"]) groups.set(m, wheel.add(m));
    vi.advanceTimersByTime(100);
    expect(called.sort()).toEqual(["a", "b", "c"]);
    expect(wheel.size).toBe(0);
  });

  it("keeps short periods: one group per millisecond at most", () => {
    let n = 0;
    const wheel = new TimerWheel<string>(5, () => n++);
    wheel.add("a");
    vi.advanceTimersByTime(50);
    expect(n).toBe(10);
  });
});
