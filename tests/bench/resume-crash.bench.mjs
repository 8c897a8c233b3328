// Crash-resume duplicates: the embedded platform (compiled, `services/platform/dist/main.js` of
// --root, default this tree) runs as a child process on fixed ports and a kept data directory and
// is killed with SIGKILL every 20-40 s, then started again at once. A sender appends messages to a
// few conversations through chat (retrying while the platform is down); subscribers on WebSocket
// and gRPC bidi (half each) reconnect after every drop and Resume from their last cursor, with
// their positions (the newest seq held per conversation, as @caas/client sends them) unless
// --no-positions. Counted per subscriber by (conversation, seq): every event delivered, those
// delivered again (duplicates), and at the end the acknowledged messages never delivered (missing).
//
//   node tests/bench/resume-crash.bench.mjs [--minutes 4] [--subscribers 6] [--no-positions] [--root <repo>]
//
// Prints one JSON line: deliveries, duplicates, ratio, missing, kills.
import { spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import WebSocket from "ws";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { ClientFrameSchema, ServerFrameSchema } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { RealtimeService } from "@caas/gen/caas/realtime/v1/realtime_service_pb.js";
import { repoRoot, sleep, startNodeFlags } from "./embedded-platform.mjs";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : process.argv[i + 1];
};
const minutes = Number(arg("minutes", "4"));
const subscriberCount = Number(arg("subscribers", "6"));
const usePositions = !process.argv.includes("--no-positions");
const root = resolve(arg("root", repoRoot));
const ROOMS = 4;
const SENDS_PER_SEC = 20;

const bearer = (t) => (next) => (req) => {
  req.header.set("authorization", `Bearer ${t}`);
  return next(req);
};
const freePort = () =>
  new Promise((ok) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });

/** The platform as a child process on fixed ports and a kept data directory, killable and restartable. */
async function platformProcess() {
  const dir = mkdtempSync(join(tmpdir(), "caas-resume-crash-"));
  const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", CAAS_MODE: "embedded", CAAS_DATA_DIR: join(dir, "data"), CAAS_LOG_LEVEL: "warn", CAAS_INSTANCE_ID: "crash" };
  const ports = {};
  for (const s of ["gateway", "auth", "chat", "socket", "media", "search", "compliance", "crypto"]) env[`CAAS_${s.toUpperCase()}_PORT`] = String((ports[s] = await freePort()));
  let child;
  const start = async () => {
    const log = join(dir, `platform-${Date.now()}.log`);
    child = spawn(process.execPath, [...startNodeFlags(), join(root, "services/platform/dist/main.js")], {
      cwd: root,
      env: { ...env, CAAS_LOG_LEVEL: "info" },
      stdio: ["ignore", openSync(log, "a"), openSync(log, "a")],
    });
    for (const deadline = Date.now() + 60_000; ;) {
      if (readFileSync(log, "utf8").includes('"platform ready"')) return;
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the platform did not start:\n${readFileSync(log, "utf8").slice(-2000)}`);
      await sleep(100);
    }
  };
  await start();
  const url = (s) => `http://127.0.0.1:${ports[s]}`;
  return {
    url,
    admin: () => readFileSync(join(dir, "data", "admin-credential"), "utf8").trim(),
    start,
    kill: async () => {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    },
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Retries `fn` while the platform is down or busy. */
async function retrying(fn, stopped = () => false) {
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      const code = ConnectError.from(err).code;
      if (stopped() || ![Code.Unavailable, Code.ResourceExhausted, Code.DeadlineExceeded, Code.Internal, Code.Unknown, Code.Canceled, Code.Aborted].includes(code)) throw err;
      await sleep(300);
    }
  }
}

/** One subscriber: reconnects after every drop and resumes; counts deliveries and repeats by (conversation, seq). */
function subscriber(p, label, transport, issueToken) {
  const s = { label, deliveries: 0, duplicates: 0, seen: new Map(), cursor: "", resumes: 0, stopped: false };
  const high = new Map(); // conversation -> newest seq held with every seq before it
  const take = (e) => {
    s.deliveries++;
    let seqs = s.seen.get(e.conversationId);
    if (!seqs) s.seen.set(e.conversationId, (seqs = new Set()));
    if (seqs.has(e.seq)) s.duplicates++;
    seqs.add(e.seq);
    let h = high.get(e.conversationId) ?? 0n;
    while (seqs.has(h + 1n)) h++;
    if (h > 0n) high.set(e.conversationId, h);
  };
  const onFrame = (f, send) => {
    const v = f.frame;
    if (v.case === "authOk") {
      s.resumes++;
      const positions = usePositions ? [...high].map(([conversationId, seq]) => ({ conversationId, seq })) : [];
      send({ id: 2n, frame: { case: "resume", value: { cursor: s.cursor, positions } } });
    } else if (v.case === "event") take(v.value);
    else if (v.case === "changes") for (const e of v.value.events) take(e);
    else if (v.case === "resumeDone" || v.case === "checkpoint") s.cursor = v.value.cursor;
    else if (v.case === "error" && f.replyTo === 2n) s.cursor = ""; // an expired cursor: start again (repeats still counted)
  };
  const once = async () => {
    const token = await retrying(issueToken, () => s.stopped);
    const auth = { id: 1n, frame: { case: "auth", value: { accessToken: token } } };
    if (transport === "ws") {
      const ws = new WebSocket(`${p.url("socket").replace("http", "ws")}/ws`);
      const send = (frame) => ws.readyState === WebSocket.OPEN && ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, frame)));
      ws.on("open", () => send(auth));
      ws.on("message", (data) => onFrame(fromBinary(ServerFrameSchema, new Uint8Array(data)), send));
      const ping = setInterval(() => send({ id: 0n, frame: { case: "ping", value: { nonce: 1n } } }), 10_000);
      await new Promise((r) => {
        ws.on("close", r);
        ws.on("error", r);
        s.close = () => ws.close();
      });
      clearInterval(ping);
    } else {
      const rpc = createClient(RealtimeService, createGrpcTransport({ baseUrl: p.url("socket") }));
      const queue = [];
      let wake;
      let done = false;
      const send = (frame) => {
        queue.push({ frame });
        wake?.();
      };
      async function* requests() {
        while (!done) {
          if (queue.length > 0) yield queue.shift();
          else await new Promise((r) => (wake = r));
        }
      }
      send(auth);
      const ping = setInterval(() => send({ id: 0n, frame: { case: "ping", value: { nonce: 1n } } }), 10_000);
      const abort = new AbortController();
      s.close = () => abort.abort();
      try {
        for await (const r of rpc.connect(requests(), { signal: abort.signal, timeoutMs: 0 })) if (r.frame) onFrame(r.frame, send);
      } catch {
        // dropped: reconnect
      }
      done = true;
      wake?.();
      clearInterval(ping);
    }
  };
  s.run = (async () => {
    while (!s.stopped) {
      await once().catch(() => undefined);
      if (!s.stopped) await sleep(200 + Math.random() * 300);
    }
  })();
  return s;
}

async function main() {
  const p = await platformProcess();
  const admin = createClient(TenantAdminService, createGrpcTransport({ baseUrl: p.url("auth"), interceptors: [bearer(p.admin())] }));
  const { tenant } = await admin.createTenant({ name: `resume-crash-${Date.now()}` });
  const { secret } = await admin.createApiKey({ tenantId: tenant.id, name: "bench" });
  const users = createClient(UserAdminService, createGrpcTransport({ baseUrl: p.url("auth"), interceptors: [bearer(secret)] }));
  const ids = ["sender", ...Array.from({ length: subscriberCount }, (_, i) => `sub${i}`)];
  for (const userId of ids) await users.upsertUser({ userId, displayName: userId });
  const issue = (userId) => async () => (await users.issueUserToken({ userId, deviceId: "bench" })).tokens.accessToken;
  let senderToken = await issue("sender")();
  const chat = createClient(ChatService, createGrpcTransport({ baseUrl: p.url("chat"), interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${senderToken}`), next(req))] }));
  const rooms = [];
  for (let i = 0; i < ROOMS; i++) rooms.push((await chat.createConversation({ type: ConversationType.GROUP, memberIds: ids.slice(1), title: `room ${i}` })).conversation.id);
  const subs = ids.slice(1).map((u, i) => subscriber(p, u, i % 2 === 0 ? "ws" : "grpc", issue(u)));

  let running = true;
  const acked = [];
  let n = 0;
  const sender = (async () => {
    while (running) {
      const at = Date.now();
      const i = n++;
      try {
        const ack = await retrying(
          () => chat.sendMessage({ conversationId: rooms[i % ROOMS], clientMessageId: `m${i}`, text: `m${i}` }),
          () => !running,
        );
        acked.push({ conversationId: rooms[i % ROOMS], seq: ack.seq });
      } catch (err) {
        // An expired token gets a fresh one; anything else is retried as another message.
        if (ConnectError.from(err).code === Code.Unauthenticated) senderToken = await retrying(issue("sender")).catch(() => senderToken);
        else process.stderr.write(`  send ${i}: ${ConnectError.from(err).message}\n`);
      }
      await sleep(Math.max(0, 1000 / SENDS_PER_SEC - (Date.now() - at)));
    }
  })();

  const end = Date.now() + minutes * 60_000;
  let kills = 0;
  while (Date.now() < end) {
    await sleep(Math.min(end - Date.now(), 20_000 + Math.random() * 20_000));
    if (Date.now() >= end) break;
    await p.kill();
    kills++;
    await p.start();
    process.stderr.write(`  kill ${kills}: ${acked.length} acked, ${subs.reduce((a, s) => a + s.deliveries, 0)} delivered\n`);
  }
  running = false;
  await sender.catch((err) => process.stderr.write(`sender: ${err}\n`));
  // Everyone resumes once more so that everything acknowledged can arrive.
  for (const s of subs) s.close?.();
  await sleep(8_000);
  for (const s of subs) {
    s.stopped = true;
    s.close?.();
  }
  let missing = 0;
  for (const s of subs) for (const a of acked) if (!s.seen.get(a.conversationId)?.has(a.seq)) missing++;
  const deliveries = subs.reduce((a, s) => a + s.deliveries, 0);
  const duplicates = subs.reduce((a, s) => a + s.duplicates, 0);
  const result = {
    root,
    positions: usePositions,
    minutes,
    kills,
    subscribers: subs.length,
    acked: acked.length,
    deliveries,
    duplicates,
    ratio: Number(((100 * duplicates) / deliveries).toFixed(2)),
    missing,
    resumes: subs.reduce((a, s) => a + s.resumes, 0),
  };
  console.log(JSON.stringify(result));
  await p.stop();
  process.exit(0);
}

await main();
