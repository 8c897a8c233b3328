// Benchmark: a 5x overload of cluster mode (chat x2) and how fast sends recover after it.
//
// The cluster (tests/bench/cluster-platform.mjs: one process per service instance, chat and socket
// twice, on the real engines; `source ~/.cache/caas-infra/env` first) gets sends through the
// gateway as clients make them: each with a client_message_id and a client deadline, retried as
// @caas/client retries (jittered exponential backoff from 250 ms to 8 s, never sooner than the
// server's RetryInfo delay; each retry marked with `grpc-previous-rpc-attempts`), until
// acknowledged or the client gives up (abandoned). Phases, open loop:
//   1. calibrate: a closed loop of `concurrency` senders measures the sustainable rate S (acked/s);
//   2. normal: 0.5 S for `normalS` seconds (the baseline);
//   3. overload: 5 S for `overloadS` seconds;
//   4. normal again: 0.5 S for `afterS` seconds.
// Reported per second: sends started, acked, shed, abandoned, and the ack latency (first attempt to
// ack, retries included) of the sends started in that second (p50/p99); and the recovery time:
// from the end of the overload until the per-second p50 is back within 2x the baseline p50 and
// stays there for 5 s. At the end every conversation is read back (Sync): messages committed whose
// client never got an ack are work the platform did for nobody.
//
// Usage: npm run build && source ~/.cache/caas-infra/env && node tests/bench/overload.bench.mjs [overloadS=30] [normalS=20] [afterS=60] [users=200]
import { cpus, loadavg } from "node:os";
import { backoffDelay } from "@caas/client";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { RetryInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { startClusterPlatform } from "./cluster-platform.mjs";
import { pinned, quantiles, sleep } from "./embedded-platform.mjs";
import { attemptLegs, cpuByPhase, cpuNow } from "./overload-report.mjs";

const args = process.argv.slice(2);
const overloadS = Number(args[0] ?? 30);
const normalS = Number(args[1] ?? 20);
const afterS = Number(args[2] ?? 60);
const userCount = Number(args[3] ?? 200);
const CALIBRATE_S = 15;
const CONCURRENCY = 8;
/** A client's deadline per attempt and how long it keeps retrying one send. */
const ATTEMPT_TIMEOUT_MS = 10_000;
const BUDGET_MS = 30_000;
/** Retry delays: from 250 ms doubling to at most 8 s, jittered (the SDK's backoffDelay). */
const RETRY_BACKOFF = { initialMs: 250, maxMs: 8_000 };

const bearer = (token) => ({ headers: { authorization: `Bearer ${token}` } });

async function setup(platform) {
  const auth = (credential) =>
    createGrpcTransport({
      baseUrl: platform.endpoints.auth,
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${credential}`);
          return next(req);
        },
      ],
    });
  const admin = createClient(TenantAdminService, auth(platform.adminCredential));
  const { tenant } = await admin.createTenant({ name: `overload-${Date.now()}` });
  const { secret } = await admin.createApiKey({ tenantId: tenant.id, name: "bench" });
  const backend = createClient(UserAdminService, auth(secret));
  const tokenOf = async (userId) => {
    await backend.upsertUser({ userId, displayName: userId });
    return (await backend.issueUserToken({ userId, deviceId: "bench" })).tokens.accessToken;
  };
  await tokenOf("reader");
  const chat = createClient(ChatService, createGrpcTransport({ baseUrl: platform.endpoints.gateway }));
  const users = [];
  for (let i = 0; i < userCount; i += 20) {
    users.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(20, userCount - i) }, async (_, j) => {
          const token = await tokenOf(`u${i + j}`);
          const { conversation } = await withRetries(() => chat.createConversation({ type: ConversationType.GROUP, memberIds: ["reader"], title: `overload ${i + j}` }, bearer(token)));
          // Each user its own connection, as each device has: one shared connection would hold the
          // calls over the gateway's 1000-stream limit unsent in the bench itself.
          return { token, conversationId: conversation.id, chat: createClient(ChatService, createGrpcTransport({ baseUrl: platform.endpoints.gateway })) };
        }),
      )),
    );
  }
  return { users, chat };
}

/** Runs a set-up call again while the platform refuses it with RESOURCE_EXHAUSTED, after the delay it names (a cold cluster is slow). */
async function withRetries(call) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const e = ConnectError.from(err);
      if (e.code !== Code.ResourceExhausted || attempt >= 20) throw e;
      const d = e.findDetails(RetryInfoSchema)[0]?.retryDelay;
      await sleep(d ? Number(d.seconds) * 1000 + d.nanos / 1e6 : 1000);
    }
  }
}

/** Up to three messages of each failure code the clients saw (other than sheds). */
const samples = {};
/** The client_message_ids acknowledged to their client. */
const acked = new Set();
/** Per second of the open loop (from `clock.t0`): attempts made, how many were retries, how many were shed. */
const clock = { t0: undefined, inflight: 0 };
const attemptsBySec = [];
function countAttempt(attempt, outcome) {
  if (clock.t0 === undefined) return;
  const row = (attemptsBySec[Math.floor((performance.now() - clock.t0) / 1000)] ??= { first: 0, retries: 0, shed: 0, timedOut: 0, maxInflight: 0 });
  if (outcome === "shed") row.shed++;
  else if (outcome === "timedOut") row.timedOut++;
  else if (attempt === 0) row.first++;
  else row.retries++;
  // Attempts in flight over all users' connections.
  row.maxInflight = Math.max(row.maxInflight, clock.inflight);
}

/**
 * Each attempt of the open loop by its correlation id (sent as `x-correlation-id`, which every hop's
 * log lines carry): when the client started and ended it (epoch ms), to find where its time went.
 */
const attemptTimes = new Map();
const epochNow = () => performance.timeOrigin + performance.now();

/** One send as a client makes it; resolves with what happened. */
async function clientSend(user, clientMessageId, counters) {
  const t0 = performance.now();
  for (let attempt = 0; performance.now() - t0 < BUDGET_MS; attempt++) {
    countAttempt(attempt);
    clock.inflight++;
    const correlationId = `${clientMessageId}.${attempt}`;
    const times = { start: epochNow(), end: 0 };
    if (clock.t0 !== undefined) attemptTimes.set(correlationId, times);
    try {
      // A retry says so, as gRPC's retrying clients do (A6): chat takes retries on within a budget (ADR 0155).
      const headers = { authorization: `Bearer ${user.token}`, "x-correlation-id": correlationId, ...(attempt > 0 ? { "grpc-previous-rpc-attempts": String(attempt) } : {}) };
      await user.chat.sendMessage({ conversationId: user.conversationId, clientMessageId, text: "overload" }, { headers, timeoutMs: ATTEMPT_TIMEOUT_MS }).finally(() => {
        clock.inflight--;
        times.end = epochNow();
      });
      acked.add(clientMessageId);
      return { ok: true, ms: performance.now() - t0 };
    } catch (err) {
      const e = ConnectError.from(err);
      // Shed by chat's admission (ADR 0036, 0130), or refused by a rate limit: both RESOURCE_EXHAUSTED.
      const kind =
        e.code !== Code.ResourceExhausted
          ? Code[e.code]
          : /this chat instance is working on/.test(e.rawMessage)
            ? "shed"
            : /calls outstanding to|retries through to/.test(e.rawMessage)
              ? "shedAtGateway"
              : "rateLimited";
      counters[kind] = (counters[kind] ?? 0) + 1;
      // Of the sheds, the retries refused for want of retry budget (ADR 0155).
      if (kind === "shed" && /retry budget/.test(e.rawMessage)) counters.shedRetryBudget = (counters.shedRetryBudget ?? 0) + 1;
      if (kind === "shed" || kind === "shedAtGateway") countAttempt(attempt, "shed");
      if (kind === "DeadlineExceeded") countAttempt(attempt, "timedOut");
      if (kind !== "shed" && kind !== "shedAtGateway" && (samples[kind] ??= new Set()).size < 3) samples[kind].add(e.rawMessage.slice(0, 200));
      // As @caas/client retries: jittered exponential backoff, never sooner than the server's RetryInfo delay.
      const d = e.findDetails(RetryInfoSchema)[0]?.retryDelay;
      const retryAfterMs = d ? Number(d.seconds) * 1000 + d.nanos / 1e6 : 0;
      await sleep(Math.min(backoffDelay(attempt, RETRY_BACKOFF, retryAfterMs), Math.max(0, BUDGET_MS - (performance.now() - t0))));
    }
  }
  return { ok: false, ms: performance.now() - t0 };
}

async function main() {
  process.stderr.write("starting the cluster (10 processes on the real engines)\n");
  const loadAtStart = Number(loadavg()[0].toFixed(1));
  // CAAS_BENCH_SERVER_CORES (taskset list, default 0): the cores the ten service processes share.
  const platform = await startClusterPlatform((a, o) => pinned(process.env.CAAS_BENCH_SERVER_CORES ?? 0, a, o));
  try {
    const { users, chat } = await setup(platform);
    let n = 0;
    const nextUser = () => users[n++ % users.length];
    // 1. Calibrate: closed loop, no deadline pressure.
    const calCounters = {};
    let calAcked = 0;
    const calEnd = performance.now() + CALIBRATE_S * 1000;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < calEnd) if ((await clientSend(nextUser(), `cal-${n}`, calCounters)).ok) calAcked++;
      }),
    );
    const sustainable = calAcked / CALIBRATE_S;
    process.stderr.write(`sustainable: ${sustainable.toFixed(1)} acked sends/s (closed loop, ${CONCURRENCY} in flight)\n`);
    // 2-4. Open loop phases.
    const phases = [
      ["normal", normalS, 0.5 * sustainable],
      ["overload", overloadS, 5 * sustainable],
      ["after", afterS, 0.5 * sustainable],
    ];
    const seconds = [];
    const phaseStarts = [];
    const cpuMarks = [];
    const counters = {};
    const pending = [];
    const t0 = performance.now();
    const t0Epoch = Date.now();
    clock.t0 = t0;
    let at = t0;
    for (const [phase, s, rate] of phases) {
      phaseStarts.push([phase, Date.now()]);
      cpuMarks.push([phase, Date.now(), cpuNow(platform)]);
      const phaseEnd = at + s * 1000;
      for (let i = 0; at + (i * 1000) / rate < phaseEnd; i++) {
        const due = at + (i * 1000) / rate;
        await sleep(Math.max(0, due - performance.now()));
        const sec = Math.floor((performance.now() - t0) / 1000);
        const row = (seconds[sec] ??= { sec, phase, started: 0, acked: 0, abandoned: 0, ms: [] });
        row.started++;
        pending.push(
          clientSend(nextUser(), `o-${sec}-${i}-${n}`, counters).then((r) => {
            if (!r.ok) row.abandoned++;
            else {
              row.acked++;
              row.ms.push(r.ms);
            }
          }),
        );
      }
      at = phaseEnd;
    }
    await Promise.all(pending);
    cpuMarks.push(["end", Date.now(), cpuNow(platform)]);
    // The store of record: messages committed whose client never got an ack (work done for nobody).
    const committed = new Set();
    for (const u of users) {
      for (let after = 0n; ;) {
        const r = await chat.sync({ conversationId: u.conversationId, afterSeq: after, limit: 500 }, bearer(u.token));
        for (const e of r.events) if (e.payload.case === "messageCreated") committed.add(e.payload.value.message.clientMessageId);
        if (!r.hasMore || r.events.length === 0) break;
        after = r.events[r.events.length - 1].seq;
      }
    }
    const rows = seconds.filter(Boolean).map((r) => ({ ...r, ...quantiles(r.ms), ms: undefined }));
    const baseline = quantiles(rows.filter((r) => r.phase === "normal" && r.sec >= 3).flatMap((r) => seconds[r.sec].ms)).p50;
    // The first second of the last phase (the open loop may run behind its schedule on a starved machine).
    const overloadEnd = rows.find((r) => r.phase === "after")?.sec ?? normalS + overloadS;
    let recoveredAt;
    for (const r of rows.filter((x) => x.sec >= overloadEnd)) {
      const window = rows.filter((x) => x.sec >= r.sec && x.sec < r.sec + 5);
      if (window.length === 5 && window.every((x) => x.p50 <= 2 * baseline)) {
        recoveredAt = r.sec;
        break;
      }
    }
    // The gateway reports the calls it refused before its RPC stack as one line per second with their count (ADR 0211).
    const earlyRefused = (l) => (l.msg === "calls refused before the RPC stack (outstanding bound)" ? (l.rpcs?.["caas.chat.v1.ChatService/SendMessage"] ?? 0) : 0);
    // Each hop's own view per second: chat's sends finished OK and refused, and the handler time of OK sends in chat and in the gateway.
    const hopBySec = (ids) => {
      const by = [];
      for (const l of ids.flatMap((i) => platform.logOf(i))) {
        const early = earlyRefused(l);
        if (!early && ((l.msg !== "rpc" && l.msg !== "rpc failed") || l.rpc !== "caas.chat.v1.ChatService/SendMessage")) continue;
        const sec = Math.floor((Date.parse(String(l.time)) - t0Epoch) / 1000);
        if (sec < 0) continue;
        const b = (by[sec] ??= { ok: 0, refused: 0, okMs: [] });
        if (early) {
          b.refused += early;
          continue;
        }
        if (l.code === "OK") {
          b.ok++;
          b.okMs.push(l.ms);
        } else if (l.code === "RESOURCE_EXHAUSTED") b.refused++;
      }
      return by;
    };
    const chatBySec = hopBySec(["chat-1", "chat-2"]);
    const gatewayBySec = hopBySec(["gateway-1"]);
    console.table(
      rows.map((r) => ({
        s: r.sec,
        phase: r.phase,
        started: r.started,
        acked: r.acked,
        abandoned: r.abandoned,
        "p50 ms": r.p50,
        "p99 ms": r.p99,
        "1st tries": attemptsBySec[r.sec]?.first ?? 0,
        retries: attemptsBySec[r.sec]?.retries ?? 0,
        shed: attemptsBySec[r.sec]?.shed ?? 0,
        "timed out": attemptsBySec[r.sec]?.timedOut ?? 0,
        "in flight": attemptsBySec[r.sec]?.maxInflight ?? 0,
        "chat ok": chatBySec[r.sec]?.ok ?? 0,
        "chat ms p50": quantiles(chatBySec[r.sec]?.okMs ?? []).p50,
        "gw ms p50": quantiles(gatewayBySec[r.sec]?.okMs ?? []).p50,
      })),
    );
    const summary = {
      node: process.version,
      cpus: cpus().length,
      loadAverage1m: { atStart: loadAtStart, atEnd: Number(loadavg()[0].toFixed(1)) },
      sustainablePerSec: Number(sustainable.toFixed(1)),
      overloadPerSec: Number((5 * sustainable).toFixed(1)),
      phasesS: { normal: normalS, overload: overloadS, after: afterS },
      baselineP50Ms: baseline,
      overloadP50Ms: quantiles(rows.filter((r) => r.phase === "overload").flatMap((r) => seconds[r.sec].ms)).p50,
      recoverySAfterOverload: recoveredAt === undefined ? null : recoveredAt - overloadEnd,
      sends: rows.reduce((a, r) => a + r.started, 0),
      acked: rows.reduce((a, r) => a + r.acked, 0),
      abandoned: rows.reduce((a, r) => a + r.abandoned, 0),
      failedAttemptsByCode: counters,
      failureSamples: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, [...v]])),
      // Each hop's own view of SendMessage per phase (its log lines: code counts, handler time).
      hops: Object.fromEntries(
        [
          ["gateway", ["gateway-1"]],
          ["chat", ["chat-1", "chat-2"]],
        ].map(([hop, ids]) => {
          const lines = ids.flatMap((i) => platform.logOf(i)).filter((l) => earlyRefused(l) || ((l.msg === "rpc" || l.msg === "rpc failed") && l.rpc === "caas.chat.v1.ChatService/SendMessage"));
          const phaseOf = (l) => {
            const t = Date.parse(String(l.time));
            let p = "calibrate";
            for (const [name, start] of phaseStarts) if (t >= start) p = name;
            return p;
          };
          const by = {};
          for (const l of lines) {
            const b = (by[phaseOf(l)] ??= { codes: {}, okMs: [] });
            b.codes[l.code] = (b.codes[l.code] ?? 0) + (earlyRefused(l) || 1);
            if (l.code === "OK") b.okMs.push(l.ms);
          }
          return [hop, Object.fromEntries(Object.entries(by).map(([p, b]) => [p, { codes: b.codes, okMs: quantiles(b.okMs) }]))];
        }),
      ),
      // Where the time of each attempt went, per phase (attempts joined by correlation id).
      attemptLegsMs: attemptLegs(platform, phaseStarts, attemptTimes),
      // Who used the CPU in each phase: % of one core per service instance, the load generator, and each core's busy %.
      cpuPercentByPhase: cpuByPhase(cpuMarks),
      committedMessages: committed.size,
      committedNeverAcked: [...committed].filter((id) => !acked.has(id)).length,
      // Chat's own record: sends it refused before any work (shed) and sends it abandoned because
      // the caller's deadline passed or the caller left before the commit.
      chatSendsByCode: ["chat-1", "chat-2"]
        .flatMap((i) => platform.logOf(i))
        .filter((l) => (l.msg === "rpc" || l.msg === "rpc failed") && l.rpc === "caas.chat.v1.ChatService/SendMessage")
        .reduce((m, l) => ({ ...m, [l.code]: (m[l.code] ?? 0) + 1 }), {}),
      // What failed inside the platform (internal errors), by instance and message.
      internalErrors: ["gateway-1", "chat-1", "chat-2"]
        .flatMap((i) =>
          platform
            .logOf(i)
            .filter((l) => l.msg === "rpc failed")
            .map((l) => `${i}: ${String(l.err?.message ?? l.err?.msg ?? "").slice(0, 160)}`),
        )
        .reduce((m, k) => ({ ...m, [k]: (m[k] ?? 0) + 1 }), {}),
    };
    console.log(JSON.stringify(summary));
  } finally {
    await platform.stop();
  }
}

await main();
process.exit(0);
