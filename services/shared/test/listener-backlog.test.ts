import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { RunningService } from "../src/server/service-host.js";
import { probeHost } from "./support/probe-host.js";

let host: RunningService | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
});

/**
 * Opens `n` TCP connections to `port` from a process of its own and writes to `file` how many the
 * kernel completed (handshaken: queued for accept): as soon as all have, or after 10 s (a SYN
 * dropped by a full queue is retransmitted after 1 s and 3 s, and dropped again while nothing
 * accepts); then holds them until killed. Not a timing check: a loaded machine only makes it
 * take longer.
 */
const CONNECTOR = `
const net = require("node:net");
const [port, n, file] = [Number(process.argv[1]), Number(process.argv[2]), process.argv[3]];
let connected = 0;
let written = false;
const report = () => {
  if (written) return;
  written = true;
  require("node:fs").writeFileSync(file, String(connected));
};
const sockets = [];
for (let i = 0; i < n; i++) {
  const s = net.connect(port, "127.0.0.1", () => {
    if (++connected === n) report();
  });
  s.on("error", () => {});
  sockets.push(s);
}
setTimeout(report, 10_000);
`;

const somaxconn = Number(existsSync("/proc/sys/net/core/somaxconn") ? readFileSync("/proc/sys/net/core/somaxconn", "utf8") : 4096);

describe("listen backlog", () => {
  it("holds a burst of 1500 connections for accept while the event loop is busy, where Node's default backlog (511) drops the SYNs over it", async () => {
    host = await probeHost({});
    const dir = mkdtempSync(join(tmpdir(), "caas-backlog-"));
    const file = join(dir, "connected");
    const n = 1500;
    const child = spawn(process.execPath, ["-e", CONNECTOR, String(new URL(host.url).port), String(n), file], { stdio: "ignore" });
    try {
      // The service's event loop is blocked (as it is while it authenticates a burst of
      // reconnecting clients): nothing is accepted, so only the kernel's queue holds the handshakes.
      const deadline = Date.now() + 30_000;
      while (!existsSync(file) && Date.now() < deadline) {
        // busy: no accept runs
      }
      const connected = Number(readFileSync(file, "utf8"));
      expect(connected).toBeGreaterThanOrEqual(Math.min(n, somaxconn));
    } finally {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
