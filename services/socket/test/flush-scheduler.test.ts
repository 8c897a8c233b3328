import { describe, expect, it } from "vitest";
import { FlushScheduler } from "../src/flush-scheduler.js";

const nextTurn = () => new Promise<void>((r) => setImmediate(r));

/** A target whose flush takes about `ms` of CPU (a fan-out write). */
const busy = (ms: number, log?: string[], name?: string) => ({
  flush() {
    const end = performance.now() + ms;
    while (performance.now() < end);
    if (log && name) log.push(name);
  },
});

describe("FlushScheduler", () => {
  it("flushes every target scheduled in one tick once, in order", async () => {
    const s = new FlushScheduler();
    const log: string[] = [];
    for (const name of ["a", "b", "c"]) s.schedule(busy(0, log, name));
    expect(log).toEqual([]);
    await nextTurn();
    expect(log).toEqual(["a", "b", "c"]);
  });

  it("holds the next flush after a heavy one on its own instance only", async () => {
    const a = new FlushScheduler();
    const b = new FlushScheduler();
    // A heavy fan-out on instance a: 100 sessions, about 12 ms in all.
    for (let i = 0; i < 100; i++) a.schedule(busy(0.12));
    await nextTurn();
    const log: string[] = [];
    a.schedule(busy(0, log, "a")); // held: waits up to 10 ms after a's heavy flush
    b.schedule(busy(0, log, "b")); // another instance in the same process: not held
    await nextTurn();
    expect(log).toContain("b");
    await new Promise((r) => setTimeout(r, 30));
    expect(log).toContain("a");
  });
});
