// The client side of the realtime benchmarks, and the bare ws servers they compare against, as
// processes of their own (started by realtime.bench.mjs and realtime-hub.bench.mjs):
//   --bare direct|coalesced   a bare ws broadcast server (the baselines);
//   --load                    the load process: one plan per stdin line, one JSON result line each;
//   --hub-client <port> <n>   n connections to a hub, counting events; answers "?" with the count.
import { once } from "node:events";
import http from "node:http";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import WebSocket, { WebSocketServer } from "ws";
import { ClientFrameSchema, ServerFrameSchema } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { centrifugoJoin, centrifugoLines } from "./centrifugo.mjs";
import { eventText, grpcConnection } from "./realtime-grpc-client.mjs";
import { cpuMs, quantiles, sleep } from "./embedded-platform.mjs";

// The first byte of a ServerFrame pushed with reply_to 0 whose case is `event` (field 13,
// length-delimited): (13 << 3) | 2.
const EVENT_TAG = 0x6a;
// Latency stamp in a message's text: "@@<performance.now() of the load process>;<sender index>;".
const STAMP = Buffer.from("@@");
function stampOf(buf) {
  const at = buf.indexOf(STAMP);
  if (at < 0) return undefined;
  const end = buf.indexOf(0x3b, at); // ';'
  const end2 = buf.indexOf(0x3b, end + 1);
  return { t: Number(buf.toString("latin1", at + 2, end)), sender: Number(buf.toString("latin1", end + 1, end2)) };
}

// ---------------------------------------------------------------------------------------------
// Bare ws broadcast servers (the baselines): `--bare direct|coalesced`. A client message is
// [op, ...rest]: op 1 joins the room named by rest, op 2 broadcasts rest to every connection in
// the sender's room (the sender included, like a conversation event).

function bareServer(mode) {
  const rooms = new Map();
  const server = http.createServer((_, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  server.on("upgrade", (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = { ws, socket, pending: [], scheduled: false, room: undefined };
      ws.on("message", (data) => {
        const op = data[0];
        if (op === 1) {
          conn.room = data.toString("utf8", 1);
          let members = rooms.get(conn.room);
          if (!members) rooms.set(conn.room, (members = []));
          members.push(conn);
          ws.send(Buffer.from([1]));
        } else if (op === 2) {
          const payload = data.subarray(1);
          for (const m of rooms.get(conn.room) ?? []) {
            if (mode === "direct") m.ws.send(payload);
            else {
              m.pending.push(payload);
              if (!m.scheduled) {
                m.scheduled = true;
                setImmediate(() => {
                  m.scheduled = false;
                  const batch = m.pending;
                  m.pending = [];
                  m.socket.cork();
                  for (const p of batch) m.ws.send(p);
                  m.socket.uncork();
                });
              }
            }
          }
        }
      });
      ws.on("close", () => {
        const members = rooms.get(conn.room);
        if (members) members.splice(members.indexOf(conn), 1);
      });
    }),
  );
  server.listen(0, "127.0.0.1", () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
}

// ---------------------------------------------------------------------------------------------
// The load process: `--load` reads one plan per line on stdin and answers one JSON line each.

/** Opens connections to the server under test; returns them with their counters. */
async function openConnections(plan) {
  const conns = [];
  // Idle connections only authenticate: open them in bigger batches (tokens live 5 minutes).
  const batch = plan.idle ? 500 : 100;
  for (let i = 0; i < plan.members.length; i += batch) {
    conns.push(
      ...(await Promise.all(
        plan.members.slice(i, i + batch).map(async (m) => {
          if (plan.kind === "grpc") return grpcConnection(plan.url, { member: m, events: 0, closed: undefined, acks: 0, refused: 0, nextId: 2n, latencies: undefined }, onGrpcEvent);
          const ws = new WebSocket(plan.kind === "ours" ? `${plan.url}/ws` : plan.url, { perMessageDeflate: false });
          const c = { ws, member: m, events: 0, closed: undefined, acks: 0, refused: 0, nextId: 2n, latencies: undefined };
          await once(ws, "open");
          if (plan.kind === "centrifugo") return centrifugoConnection(ws, c);
          const ready = new Promise((resolve, reject) => {
            ws.once("message", (data) => {
              if (plan.kind !== "ours") return resolve();
              const f = fromBinary(ServerFrameSchema, data);
              if (f.frame.case === "authOk") resolve();
              else reject(new Error(`auth failed: ${f.frame.case} ${JSON.stringify(f.frame.value?.message ?? "")}`));
            });
          });
          if (plan.kind === "ours") ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, { id: 1n, frame: { case: "auth", value: { accessToken: m.token } } })));
          else ws.send(Buffer.concat([Buffer.from([1]), Buffer.from(m.room)]));
          await ready;
          ws.on("message", (data) => {
            if (data[0] === EVENT_TAG || plan.kind !== "ours") {
              c.events++;
              if (c.latencies) {
                const stamp = stampOf(data);
                // Only what other connections sent: a sender's own copy is not a delivery to measure.
                if (stamp !== undefined && stamp.sender !== c.index) c.latencies.push(performance.now() - stamp.t);
              }
            } else if (data[0] === 0x08) {
              // A reply (reply_to set): an ack or an error.
              const f = fromBinary(ServerFrameSchema, data);
              if (f.frame.case === "sendAck") c.acks++;
              else if (f.frame.case === "error") c.refused++;
            }
          });
          ws.on("close", (code, reason) => (c.closed ??= `${code} ${reason}`));
          ws.on("error", () => undefined);
          return c;
        }),
      )),
    );
  }
  return conns;
}

/** Counts a gRPC client's pushed event like a WebSocket event frame (`this` is the connection). */
function onGrpcEvent(e) {
  this.events++;
  if (this.latencies) {
    const stamp = stampOf(Buffer.from(eventText(e)));
    if (stamp !== undefined && stamp.sender !== this.index) this.latencies.push(performance.now() - stamp.t);
  }
}

/** A Centrifugo connection (connected and subscribed), counting publications pushed and publish replies. */
async function centrifugoConnection(ws, c) {
  await centrifugoJoin(ws, c.member);
  c.nextId = 3;
  ws.on("message", (data) => {
    for (const line of centrifugoLines(data)) {
      if (line.startsWith('{"push"')) {
        if (!line.includes('"pub"')) continue;
        c.events++;
        if (c.latencies) {
          const stamp = stampOf(Buffer.from(line));
          if (stamp !== undefined && stamp.sender !== c.index) c.latencies.push(performance.now() - stamp.t);
        }
      } else if (line.includes('"error"')) c.refused++;
      else if (line.includes('"publish"')) c.acks++;
    }
  });
  ws.on("close", (code, reason) => (c.closed ??= `${code} ${reason}`));
  ws.on("error", () => undefined);
  return c;
}

function sendFrom(plan, c, seq, text) {
  if (plan.kind === "grpc") {
    c.ws.send({ id: c.nextId++, frame: { case: "send", value: { conversationId: c.member.room, clientMessageId: `b${seq}`, text } } });
  } else if (plan.kind === "ours") {
    const id = c.nextId++;
    c.ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, { id, frame: { case: "send", value: { conversationId: c.member.room, clientMessageId: `b${seq}`, text } } })));
  } else if (plan.kind === "centrifugo") {
    c.ws.send(JSON.stringify({ id: c.nextId++, publish: { channel: c.member.room, data: { text } } }));
  } else {
    c.ws.send(Buffer.concat([Buffer.from([2]), Buffer.from(text)]));
  }
}

/** Offers `rate` messages/s for `seconds`, spread round-robin over `senders`; counts deliveries. */
async function step(plan, conns, senders, rate, seconds, withLatency) {
  for (const c of conns) {
    c.events = 0;
    c.latencies = withLatency ? [] : undefined;
  }
  const text = "x".repeat(plan.textBytes);
  const cpu0 = cpuMs(plan.serverPid);
  let sent = 0;
  let owed = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let last = t0;
  while (performance.now() < end) {
    await sleep(5);
    const now = performance.now();
    owed += ((now - last) / 1000) * rate;
    last = now;
    while (owed >= 1) {
      owed--;
      const s = senders[sent % senders.length];
      sendFrom(plan, s, `${plan.runId}-${rate}-${sent}`, `@@${performance.now()};${s.index};${text}`);
      sent++;
    }
  }
  const elapsed = (performance.now() - t0) / 1000;
  const delivered = conns.reduce((n, c) => n + c.events, 0);
  // Let the tail drain before the next step (not counted in this step's rate).
  const expected = sent * plan.roomSize;
  for (let i = 0; i < 100 && conns.reduce((n, c) => n + c.events, 0) < expected; i++) await sleep(50);
  // Server CPU per delivery over the step and its drain (every delivery of the step's sends):
  // the server's cost, which other load on the machine disturbs far less than the rate.
  const drained = conns.reduce((n, c) => n + c.events, 0);
  const cpu = cpuMs(plan.serverPid) - cpu0;
  const serverCpuUsPerDelivery = drained > 0 ? Number(((cpu * 1000) / drained).toFixed(2)) : NaN;
  // All of the server's CPU per message sent: the send path (chat's commit, the calls between
  // services) with its fan-out, the figure that matters in small conversations.
  const serverCpuMsPerSend = sent > 0 ? Number((cpu / sent).toFixed(3)) : NaN;
  const latencies = withLatency ? conns.flatMap((c) => c.latencies ?? []) : [];
  const closed = conns.filter((c) => c.closed).length;
  return {
    rate,
    sent,
    delivered,
    deliveredPerSec: Math.round(delivered / elapsed),
    expectedPerSec: Math.round((sent * plan.roomSize) / elapsed),
    closed,
    serverCpuUsPerDelivery,
    serverCpuMsPerSend,
    latency: quantiles(latencies),
  };
}

/** Idle connections opened by earlier `keep` plans, held until the idle measurement ends. */
let idleConns = [];
let idlePings;
/** A client heartbeat (fire-and-forget: id 0). */
const PING = toBinary(ClientFrameSchema, create(ClientFrameSchema, { id: 0n, frame: { case: "ping", value: { nonce: 0n } } }));

async function runPlan(plan) {
  const conns = await openConnections(plan);
  conns.forEach((c, i) => (c.index = i));
  if (process.env.CAAS_BENCH_DEBUG) process.stderr.write(`  load: ${conns.length} connections open\n`);
  if (plan.idle) {
    // Idle connections arrive in slices (`keep`: answer and wait for the next plan), each slice
    // with tokens issued just before it opens; the last plan measures all of them.
    idleConns.push(...conns);
    // Idle clients still heartbeat, as real ones do (the server closes one silent for two intervals).
    if (plan.kind === "ours") idlePings ??= setInterval(() => idleConns.forEach((c) => c.ws.readyState === WebSocket.OPEN && c.ws.send(PING)), 20_000);
    const opened = { open: idleConns.length, closed: idleConns.filter((c) => c.closed).length };
    if (plan.keep) return opened;
    process.stdout.write(`${JSON.stringify(opened)}\n`);
    // Stay connected until the coordinator has measured the server ("done"), then close.
    await stdinLines.next();
    for (const c of idleConns) c.ws.terminate();
    idleConns = [];
    clearInterval(idlePings);
    idlePings = undefined;
    return { idle: true };
  }
  // Senders: the first `sendersPerRoom` members of every room.
  const byRoom = new Map();
  for (const c of conns) {
    const list = byRoom.get(c.member.room) ?? [];
    list.push(c);
    byRoom.set(c.member.room, list);
  }
  const senders = [];
  for (let i = 0; i < plan.sendersPerRoom; i++) for (const list of byRoom.values()) if (list[i]) senders.push(list[i]);
  const steps = [];
  if (plan.fixedRate) {
    steps.push(await step(plan, conns, senders, plan.fixedRate, plan.stepSeconds * 2, true));
  } else {
    for (let rate = plan.startRate; rate <= plan.maxRate; rate *= 2) {
      const s = await step(plan, conns, senders, rate, plan.stepSeconds, false);
      steps.push(s);
      if (s.closed > 0 || s.deliveredPerSec < 0.8 * s.expectedPerSec) break;
    }
  }
  const acks = conns.reduce((n, c) => n + c.acks, 0);
  const refused = conns.reduce((n, c) => n + c.refused, 0);
  for (const c of conns) c.ws.terminate();
  return { steps, acks, refused };
}

/** The load process's stdin, one line at a time (plans, and "done" after an idle measurement). */
const stdinLines = (async function* () {
  let buffered = "";
  process.stdin.setEncoding("utf8");
  for await (const chunk of process.stdin) {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim()) yield line;
    }
  }
})();

async function loadMain() {
  for await (const line of stdinLines) {
    const result = await runPlan(JSON.parse(line));
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
}

async function hubClient() {
  const [port, n] = [Number(process.argv[3]), Number(process.argv[4])];
  let events = 0;
  for (let i = 0; i < n; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, n - i) }, (_, j) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { perMessageDeflate: false });
        ws.on("open", () => ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, { id: 1n, frame: { case: "auth", value: { accessToken: `u${i + j}` } } }))));
        return new Promise((resolve) => ws.on("message", (d) => (d[0] === EVENT_TAG ? events++ : resolve())));
      }),
    );
  }
  process.stdout.write("ready\n");
  for await (const _ of stdinLines) process.stdout.write(`${events}\n`);
}
if (process.argv[2] === "--bare") bareServer(process.argv[3]);
else if (process.argv[2] === "--hub-client") await hubClient();
else if (process.argv[2] === "--load") {
  await loadMain();
  process.exit(0);
} else {
  console.error("usage: realtime-load.mjs --bare direct|coalesced | --load | --hub-client <port> <connections>");
  process.exit(2);
}
