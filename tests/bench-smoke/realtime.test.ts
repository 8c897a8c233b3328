import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../support/spawn-platform.js";

interface BenchResult {
  fanout: { server: string; shape: string; deliveriesPerSec: number; closed: number; refused: number }[];
  latency: { server: string; samples: number; closed: number; refused: number }[];
  memory: { server: string; connections: number; closedEarly: number }[];
}

const SERVERS = ["caas socket", "caas gRPC Subscribe", "bare ws, one write", "bare ws, coalesced", "Centrifugo"];

/**
 * The realtime benchmark's smoke (CAAS_BENCH_SMOKE=1: tiny shapes, one-second steps) against ours on both transports and the
 * three other servers, so the script and its real peer cannot rot between benchmark runs. It checks that
 * every part ran and delivered, not how fast: figures belong in BENCHMARKS.md. Centrifugo comes
 * from tests/ci/centrifugo.sh (.ci/run installs it; locally run that script once).
 */
describe("tests/bench/realtime.bench.mjs (smoke)", () => {
  it("runs fan-out, latency and memory on ours over /ws and over gRPC Subscribe, both bare ws servers and Centrifugo", async () => {
    const child = spawn(process.execPath, [join(repoRoot, "tests/bench/realtime.bench.mjs"), "1", "30"], {
      cwd: repoRoot,
      env: { ...process.env, CAAS_BENCH_SMOKE: "1", CAAS_BENCH_SERVERS: "ours,grpc,direct,coalesced,centrifugo" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code, `bench exited ${code}\n${err.slice(-3000)}`).toBe(0);
    const result = JSON.parse(out.trim().split("\n").at(-1)!) as BenchResult;
    for (const server of SERVERS) {
      const fanout = result.fanout.filter((r) => r.server.startsWith(server));
      expect(
        fanout.map((r) => r.shape),
        server,
      ).toEqual(["1 conversation x 20 members", "3 conversations x 5 members"]);
      for (const r of fanout) expect({ server, delivered: r.deliveriesPerSec > 0, closed: r.closed, refused: r.refused }).toEqual({ server, delivered: true, closed: 0, refused: 0 });
      const latency = result.latency.find((r) => r.server.startsWith(server));
      expect(latency && latency.samples > 0 && latency.closed === 0, `${server} latency`).toBe(true);
      const memory = result.memory.find((r) => r.server.startsWith(server));
      expect({ server, connections: memory?.connections, closedEarly: memory?.closedEarly }).toEqual({ server, connections: 30, closedEarly: 0 });
    }
  }, 400_000);
});
