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
 * Opens `n` TCP connections to `port` from a process of its own and, 1.5 s later, writes to
 * `file` how many the kernel had completed (handshaken: queued for accept) by then; then holds
 * them until killed.
 */
const CONNECTOR = `
const net = require("node:net");
const [port, n, file] = [Number(process.argv[1]), Number(process.argv[2]), process.argv[3]];
let connected = 0;
const sockets = [];
for (let i = 0; i < n; i++) {
  const s = net.connect(port, "127.0.0.1", () => connected++);
  s.on("error", () => {});
  sockets.push(s);
}
setTimeout(() => require("node:fs").writeFileSync(file, String(connected)), 1500);
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
