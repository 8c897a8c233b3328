// The client side of the reconnect storm (realtime-storm.bench.mjs), one process per slice of the
// clients, each bound to its own loopback source address (--local 127.0.0.N) so that no single
// address runs out of ephemeral ports. Reads one command per stdin line, answers one JSON line:
//   {op:"connect", url, members}  opens every member's /ws connection, authenticates and resumes
//                                 from nothing; answers once all got ResumeDone;
//   {op:"cut", need, timeoutMs}   drops every connection at once (terminate) and reconnects at
//                                 once, each resuming from its last ResumeDone/Checkpoint cursor
//                                 with its position; answers when all resumed and hold `need`
//                                 (conversation -> seqs acknowledged before the cut);
//   {op:"check", acked, waitMs}   waits until every client holds every seq of `acked` of its
//                                 conversation; answers what is missing.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import WebSocket from "ws";
import { AuthService } from "@caas/gen/caas/auth/v1/auth_service_pb.js";
import { ClientFrameSchema, ServerFrameSchema } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { quantiles, sleep } from "./embedded-platform.mjs";

const local = process.argv[process.argv.indexOf("--local") + 1];
const clients = [];
let url = "";
/** AuthService, for clients whose access token expired (set by "connect"). */
let auth;
/** While true, a dropped connection reconnects (after the server's retry_after, if it sent one). */
let reconnecting = true;
let cutAt = 0;
/** conversation -> seqs every client of it must hold to count as caught up after the cut. */
let need = new Map();

const encode = (frame) => toBinary(ClientFrameSchema, create(ClientFrameSchema, frame));
const ms = (d) => (d ? Number(d.seconds) * 1000 + d.nanos / 1e6 : 0);

function take(c, e) {
  if (e.conversationId !== c.m.room) return;
  const seq = Number(e.seq);
  if (c.seen.has(seq)) {
    c.duplicates++;
    return;
  }
  c.seen.add(seq);
  c.deliveries++;
  while (c.seen.has(c.high + 1)) c.high++;
  if (need.get(c.m.room)?.has(seq)) c.needLeft--;
  caught(c);
}

function caught(c) {
  if (c.resumedAt && !c.caughtAt && c.needLeft <= 0) c.caughtAt = performance.now();
}

function onFrame(c, f) {
  const v = f.frame;
  if (v.case === "authOk") {
    c.authedAt = performance.now();
    const positions = c.high > 0 ? [{ conversationId: c.m.room, seq: BigInt(c.high) }] : [];
    c.ws.send(encode({ id: 2n, frame: { case: "resume", value: { cursor: c.cursor, positions } } }));
  } else if (v.case === "event") take(c, v.value);
  else if (v.case === "changes") for (const e of v.value.events) take(c, e);
  else if (v.case === "resumeDone") {
    c.cursor = v.value.cursor;
    c.resumedAt = performance.now();
    c.resolve?.();
    caught(c);
  } else if (v.case === "checkpoint") c.cursor = v.value.cursor;
  else if (v.case === "error") {
    const key = `${f.replyTo === 1n ? "auth" : f.replyTo === 2n ? "resume" : "other"} ${v.value.code}`;
    c.errors.set(key, (c.errors.get(key) ?? 0) + 1);
    if (v.value.retryAfter) c.retryAfterMs = ms(v.value.retryAfter);
    if (f.replyTo === 1n && v.value.code === 16) c.refreshFirst = true;
    if (f.replyTo === 2n) {
      // An expired cursor: resume again from the position alone.
      c.cursor = "";
      c.ws.send(encode({ id: 2n, frame: { case: "resume", value: { cursor: "", positions: c.high > 0 ? [{ conversationId: c.m.room, seq: BigInt(c.high) }] : [] } } }));
    }
  } else if (v.case === "closing") {
    c.closings.set(v.value.code, (c.closings.get(v.value.code) ?? 0) + 1);
    if (v.value.code === 3) c.refreshFirst = true; // TOKEN_EXPIRED
    if (v.value.retryAfter) c.retryAfterMs = ms(v.value.retryAfter);
  }
}

function open(c) {
  const ws = new WebSocket(`${url}/ws`, { perMessageDeflate: false, localAddress: local });
  c.ws = ws;
  ws.on("open", () => ws.send(encode({ id: 1n, frame: { case: "auth", value: { accessToken: c.m.token } } })));
  ws.on("message", (data) => onFrame(c, fromBinary(ServerFrameSchema, data)));
  ws.on("error", (err) => (c.lastError = err.message));
  ws.on("close", () => {
    if (c.ws !== ws || !reconnecting) return;
    c.ws = undefined;
    // Refused or dropped before it resumed: try again after the server's delay, else 0.5-1.5 s.
    c.retries++;
    const delay = c.retryAfterMs || 500 + Math.random() * 1000;
    c.retryAfterMs = 0;
    setTimeout(() => (c.refreshFirst ? refresh(c) : open(c)), delay);
  });
}

/** A new access token from the refresh token (AuthService.RefreshToken), then a new connection. */
async function refresh(c) {
  c.refreshFirst = false;
  try {
    const { tokens } = await auth.refreshToken({ refreshToken: c.m.refresh });
    c.m.token = tokens.accessToken;
    c.m.refresh = tokens.refreshToken;
    c.refreshes++;
  } catch (err) {
    c.lastError = `refresh: ${err.message}`;
    c.refreshFirst = true;
    setTimeout(() => refresh(c), 1000 + Math.random() * 1000);
    return;
  }
  open(c);
}

function newClient(m) {
  return {
    m,
    seen: new Set(),
    high: 0,
    cursor: "",
    ws: undefined,
    authedAt: 0,
    resumedAt: 0,
    caughtAt: 0,
    needLeft: 0,
    retries: 0,
    refreshes: 0,
    refreshFirst: false,
    deliveries: 0,
    duplicates: 0,
    errors: new Map(),
    closings: new Map(),
    retryAfterMs: 0,
  };
}

const merge = (maps) => {
  const out = {};
  for (const m of maps) for (const [k, n] of m) out[k] = (out[k] ?? 0) + n;
  return out;
};

async function connect(cmd) {
  url = cmd.url;
  auth = createClient(AuthService, createGrpcTransport({ baseUrl: cmd.authUrl }));
  for (let i = 0; i < cmd.members.length; i += 100) {
    const batch = cmd.members.slice(i, i + 100).map(newClient);
    clients.push(...batch);
    await Promise.all(
      batch.map((c) => {
        const done = new Promise((r) => (c.resolve = r));
        open(c);
        return done;
      }),
    );
  }
  return { open: clients.length, retries: clients.reduce((n, c) => n + c.retries, 0), errors: merge(clients.map((c) => c.errors)) };
}

async function cut(cmd) {
  need = new Map(Object.entries(cmd.need).map(([room, seqs]) => [room, new Set(seqs)]));
  for (const c of clients) {
    c.resumedAt = 0;
    c.caughtAt = 0;
    c.retries = 0;
    c.refreshes = 0;
    c.errors.clear();
    c.closings.clear();
    c.needLeft = [...(need.get(c.m.room) ?? [])].filter((s) => !c.seen.has(s)).length;
  }
  cutAt = performance.now();
  // Every connection drops in the same tick and dials again at once: the thundering herd.
  for (const c of clients) {
    const ws = c.ws;
    c.ws = undefined;
    ws?.removeAllListeners("close");
    ws?.terminate();
    open(c);
  }
  const deadline = cutAt + cmd.timeoutMs;
  while (performance.now() < deadline && clients.some((c) => !c.caughtAt)) await sleep(100);
  const since = (t) => (t ? t - cutAt : NaN);
  const resumed = clients.filter((c) => c.resumedAt);
  return {
    clients: clients.length,
    resumed: resumed.length,
    caughtUp: clients.filter((c) => c.caughtAt).length,
    authMs: quantiles(clients.filter((c) => c.authedAt > cutAt).map((c) => c.authedAt - cutAt)),
    resumedMs: quantiles(resumed.map((c) => since(c.resumedAt))),
    caughtMs: quantiles(clients.filter((c) => c.caughtAt).map((c) => since(c.caughtAt))),
    retries: clients.reduce((n, c) => n + c.retries, 0),
    refreshes: clients.reduce((n, c) => n + c.refreshes, 0),
    errors: merge(clients.map((c) => c.errors)),
    closings: merge(clients.map((c) => c.closings)),
    lastErrors: [...new Set(clients.map((c) => c.lastError).filter(Boolean))].slice(0, 5),
  };
}

async function check(cmd) {
  const acked = new Map(Object.entries(cmd.acked));
  const missingOf = (c) => (acked.get(c.m.room) ?? []).filter((s) => !c.seen.has(s)).length;
  const deadline = performance.now() + cmd.waitMs;
  while (performance.now() < deadline && clients.some((c) => missingOf(c) > 0)) await sleep(200);
  const missing = clients.map(missingOf);
  return {
    missing: missing.reduce((a, b) => a + b, 0),
    clientsMissing: missing.filter((n) => n > 0).length,
    deliveries: clients.reduce((n, c) => n + c.deliveries, 0),
    duplicates: clients.reduce((n, c) => n + c.duplicates, 0),
    open: clients.filter((c) => c.ws?.readyState === WebSocket.OPEN).length,
  };
}

// Heartbeats: every open connection pings every 10 s.
setInterval(() => {
  for (const c of clients) if (c.ws?.readyState === WebSocket.OPEN) c.ws.send(encode({ id: 0n, frame: { case: "ping", value: { nonce: 1n } } }));
}, 10_000).unref();

let buffered = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) {
  buffered += chunk;
  let nl;
  while ((nl = buffered.indexOf("\n")) >= 0) {
    const cmd = JSON.parse(buffered.slice(0, nl));
    buffered = buffered.slice(nl + 1);
    const out = cmd.op === "connect" ? await connect(cmd) : cmd.op === "cut" ? await cut(cmd) : await check(cmd);
    process.stdout.write(`${JSON.stringify(out)}\n`);
  }
}
reconnecting = false;
for (const c of clients) c.ws?.terminate();
process.exit(0);
