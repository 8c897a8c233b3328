import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../support/spawn-platform.js";

interface StormResult {
  clients: number;
  resumed: number;
  caughtUp: number;
  missing: number;
  published: { acked: number };
}

/**
 * The reconnect-storm benchmark's smoke (40 clients in two load processes on their own loopback
 * source addresses): every client must reconnect, resume and hold every message acknowledged
 * before, during and after the storm. How fast is for BENCHMARKS.md, not here.
 */
describe("tests/bench/realtime-storm.bench.mjs (smoke)", () => {
  it("drops 40 resumed clients at once; all come back and miss nothing", async () => {
    const child = spawn(process.execPath, [join(repoRoot, "tests/bench/realtime-storm.bench.mjs"), "40", "2", "5"], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code, `bench exited ${code}\n${err.slice(-3000)}`).toBe(0);
    const r = JSON.parse(out.trim().split("\n").at(-1)!) as StormResult;
    expect({ clients: r.clients, resumed: r.resumed, caughtUp: r.caughtUp, missing: r.missing }).toEqual({ clients: 40, resumed: 40, caughtUp: 40, missing: 0 });
    expect(r.published.acked).toBeGreaterThan(0);
  }, 300_000);
});
