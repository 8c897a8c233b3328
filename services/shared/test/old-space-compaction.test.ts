import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { compactOldSpaceOnFullGc, OldSpaceCollector } from "../src/service-runtime.js";

// A full GC on demand in this test process (its own fork), without --expose-gc on the command line.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/**
 * The old space after a full GC, in KiB, once a heap has been left the way a burst of
 * authentications leaves it (ADR 0212): objects promoted to the old space, then every other one
 * dropped, so the pages they filled are half live.
 */
function halfLiveOldSpace(): { used: number; resident: number; kept: number } {
  const kept = promotedThenHalved();
  gc();
  const old = getHeapSpaceStatistics().find((s) => s.space_name === "old_space")!;
  return { used: old.space_used_size / 1024, resident: old.physical_space_size / 1024, kept: kept.length };
}

/** Every other one of 400,000 small objects that survived two collections (promoted). */
function promotedThenHalved(): object[] {
  const all: object[] = [];
  for (let i = 0; i < 400_000; i++) all.push({ a: i, b: String(i), c: [i] });
  gc();
  gc();
  return all.filter((_, i) => i % 2 === 0);
}

describe("compactOldSpaceOnFullGc", () => {
  it("makes a full GC give back the old-space pages a burst left half live, which V8's default keeps resident", () => {
    gc();
    const before = halfLiveOldSpace();
    // The control: V8's own heuristics leave such a heap resident at well over its live size.
    expect(before.resident).toBeGreaterThan(before.used * 1.3);
    compactOldSpaceOnFullGc();
    gc();
    const after = halfLiveOldSpace();
    expect(after.kept).toBe(200_000);
    expect(after.resident).toBeLessThan(after.used * 1.15);
  }, 30_000);
});

describe("OldSpaceCollector", () => {
  const MiB = 1024 * 1024;
  /** A collector over a scripted old space; `at(mib)` sets its size and checks, returning whether it collected. */
  function scripted(startMiB: number) {
    let used = startMiB * MiB;
    let collections = 0;
    const collector = new OldSpaceCollector({ oldSpaceUsed: () => used, collect: () => collections++ });
    return {
      at: (mib: number) => {
        used = mib * MiB;
        return collector.check();
      },
      collections: () => collections,
    };
  }

  it("collects once a burst that doubled the old space is over, not while it grows, and not again until it shows", () => {
    const old = scripted(40);
    // The burst: the old space grows by far more than 8 MiB between checks.
    expect([100, 200, 300, 400].map(old.at)).toEqual([false, false, false, false]);
    // Over: under 8 MiB more since the last check.
    expect(old.at(403)).toBe(true);
    // The collection has not shown yet (still growing slowly): no second one.
    expect([405, 407].map(old.at)).toEqual([false, false]);
    // It did: the floor is what it left, and the idle instance stays there.
    expect([130, 131, 132].map(old.at)).toEqual([false, false, false]);
    expect(old.collections()).toBe(1);
  });

  it("leaves growth of under 64 MiB, or under the size after the last collection, to V8", () => {
    const small = scripted(20);
    expect([40, 70, 75, 80].map(small.at)).toEqual([false, false, false, false]);
    const big = scripted(300);
    // 150 MiB more is over 64 MiB but not double the 300 it started from.
    expect([350, 400, 450, 452, 454].map(big.at)).toEqual([false, false, false, false, false]);
    // V8 collected (smaller than the last check): its result is the new floor.
    expect([200, 260, 330, 400, 403].map(big.at)).toEqual([false, false, false, false, true]);
  });
});
