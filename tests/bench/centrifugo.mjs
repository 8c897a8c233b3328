// Centrifugo v6, the real peer of the realtime benchmark (realtime.bench.mjs starts it, the load
// process in realtime-load.mjs speaks its client protocol). Its JSON protocol: commands
// {"id":N,"connect"|"subscribe"|"publish":{...}}, replies {"id":N,...}, pushes
// {"push":{"channel":..,"pub":{"data":..,"offset":..}}}; one WebSocket message may carry several,
// one per line.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT } from "jose";
import { haveTaskset, sleep } from "./embedded-platform.mjs";

const SECRET = "caas-bench-centrifugo-hmac-secret-0123456789";

/** The Centrifugo binary ($CAAS_CENTRIFUGO, $CAAS_INFRA_HOME/bin or PATH), or undefined. */
export function centrifugoBinary() {
  const home = process.env.CAAS_INFRA_HOME ?? join(process.env.HOME ?? "/root", ".cache/caas-infra");
  for (const candidate of [process.env.CAAS_CENTRIFUGO, join(home, "bin/centrifugo")]) if (candidate && existsSync(candidate)) return candidate;
  return spawnSync("bash", ["-c", "command -v centrifugo"], { encoding: "utf8" }).stdout.trim() || undefined;
}

/**
 * Centrifugo with its memory engine, pinned to core 0 like every server under test: every channel
 * keeps a history of 1000 publications for 10 minutes and clients may recover from it (the
 * closest match to our persisted, resumable log; the history lives in memory only), any client
 * may subscribe (authorization is not measured), subscribers may publish into their channel (as a
 * member sends into a conversation).
 */
export async function startCentrifugo() {
  const bin = centrifugoBinary();
  if (!bin) throw new Error("centrifugo not found: run tests/ci/centrifugo.sh (go install) or set CAAS_CENTRIFUGO");
  const port = await new Promise((resolve) => {
    const probe = http.createServer().listen(0, "127.0.0.1", () => {
      const p = probe.address().port;
      probe.close(() => resolve(p));
    });
  });
  const dir = mkdtempSync(join(tmpdir(), "caas-bench-centrifugo-"));
  const config = {
    http_server: { address: "127.0.0.1", port },
    log: { level: "error" },
    health: { enabled: true },
    engine: { type: "memory" },
    client: { token: { hmac_secret_key: SECRET }, allowed_origins: ["*"] },
    channel: { without_namespace: { history_size: 1000, history_ttl: "600s", force_recovery: true, allow_subscribe_for_client: true, allow_publish_for_subscriber: true } },
  };
  writeFileSync(join(dir, "config.json"), JSON.stringify(config));
  const args = [bin, "-c", join(dir, "config.json")];
  // taskset execs the binary: the child's pid is Centrifugo's own.
  const child = haveTaskset ? spawn("taskset", ["-c", "0", ...args], { stdio: ["ignore", "ignore", "inherit"] }) : spawn(bin, args.slice(1), { stdio: ["ignore", "ignore", "inherit"] });
  for (let i = 0; ; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 200) throw new Error("centrifugo did not become healthy within 10 s");
    await sleep(50);
  }
  return {
    pid: child.pid,
    url: `ws://127.0.0.1:${port}/connection/websocket`,
    version: spawnSync(bin, ["version"], { encoding: "utf8" }).stdout.trim(),
    stop: async () => {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** A connection token (HS256, the user id as `sub`). */
export const centrifugoToken = (userId) => new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject(userId).setExpirationTime("1h").sign(new TextEncoder().encode(SECRET));

/** The lines (commands, replies, pushes) of one WebSocket message. */
export const centrifugoLines = (data) => data.toString("utf8").split("\n").filter(Boolean);

/** Connects with the member's token and subscribes to its room (if any); resolves on the replies. */
export async function centrifugoJoin(ws, member) {
  const replies = new Map();
  const onMessage = (data) => {
    for (const line of centrifugoLines(data)) {
      const msg = JSON.parse(line);
      if (msg.id !== undefined) replies.get(msg.id)?.(msg);
    }
  };
  ws.on("message", onMessage);
  const call = (id, body) =>
    new Promise((resolve, reject) => {
      replies.set(id, (msg) => (msg.error ? reject(new Error(`centrifugo: ${JSON.stringify(msg.error)}`)) : resolve(msg)));
      ws.send(JSON.stringify({ id, ...body }));
    });
  await call(1, { connect: { token: member.token } });
  if (member.room) await call(2, { subscribe: { channel: member.room } });
  ws.off("message", onMessage);
}
