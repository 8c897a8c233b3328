import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { compactOldSpaceOnFullGc } from "../src/service-runtime.js";

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
