import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import { repoRoot } from "../support/spawn-platform.js";
import { bearer, tenantWithUsers } from "../support/tenants.js";
import { checkLedger, quantile, type LoggedEvent } from "./ledger.js";
import { rssMiB, Senders, type SoakConversation } from "./load.js";
import { soakProfile } from "./profile.js";
import { GrpcSubscriber, WsSubscriber, type Subscriber } from "./subscribers.js";
import { CLUSTER_FAULTS, clusterTarget, embeddedTarget, shortClusterFaults, type SoakTarget } from "./targets.js";

const profile = soakProfile(process.env);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A fault the platform has not recovered from within this long fails the run (and the load goes on). */
const RECOVERY_LIMIT_MS = 120_000;

/** Subscribing users (half on /ws, half on gRPC Subscribe, all through the gateway) and the rest. */
const USERS = ["u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9", "u10", "u11"];
const SUBSCRIBERS: [string, "ws" | "grpc"][] = [
  ["u0", "ws"],
  ["u1", "grpc"],
  ["u2", "ws"],
  ["u3", "grpc"],
  ["u6", "ws"],
  ["u7", "grpc"],
];
/** Members of the large conversation who only make it large (they neither send nor subscribe). */
const EXTRA_MEMBERS = Array.from({ length: 40 }, (_, i) => `m${i}`);

/**
 * The kill -9 soak: steady sends across direct, group and one large conversation, realtime
 * subscribers resuming after every disconnect, and kill -9 of the platform's processes at random
 * points (each restarted at once, as a supervisor would). The checks come from the harness's own
 * ledger: every acknowledged message in the log exactly once, each log dense, every subscriber
 * with every event of its conversations, no client_message_id twice. Figures go to the console
 * and to a JSON report (CAAS_SOAK_REPORT, default tests/soak/results/).
 */
describe(`kill -9 soak, ${profile.mode} mode, ${profile.name} profile`, () => {
  let target: SoakTarget;
  let passed = false;

  beforeAll(async () => {
    target = profile.mode === "cluster" ? await clusterTarget(profile.name === "short" ? shortClusterFaults() : CLUSTER_FAULTS) : await embeddedTarget();
  }, 300_000);

  afterAll(async () => {
    // The processes' logs stay for a failed run (their directory is printed).
    if (target) expect(await target.stop({ keepLogs: !passed })).toBe(0);
  }, 120_000);

  it("loses no acknowledged message, duplicates none, and every subscriber gets every event", async () => {
    const t = await tenantWithUsers(target.authUrl, target.adminToken, [...USERS, ...EXTRA_MEMBERS], "soak");
    const tokens = new Map(Object.entries(t.tokens));
    const token = (u: string) => tokens.get(u)!;
    const chat = (u: string) => createClient(ChatService, createGrpcTransport({ baseUrl: target.gatewayUrl, interceptors: [bearer(token(u))] }));
    const conversations: SoakConversation[] = [];
    const create = async (kind: SoakConversation["kind"], owner: string, others: string[], senders: string[]) => {
      const type = kind === "direct" ? ConversationType.DIRECT : ConversationType.GROUP;
      const { conversation } = await chat(owner).createConversation({ type, memberIds: others, ...(kind === "direct" ? {} : { title: kind }) });
      conversations.push({ id: conversation!.id, kind, senders });
      return conversation!.id;
    };
    for (const [a, b] of [
      ["u0", "u1"],
      ["u2", "u3"],
      ["u4", "u5"],
      ["u6", "u7"],
    ] as const)
      await create("direct", a, [b], [a, b]);
    await create("group", "u0", ["u2", "u4", "u8"], ["u0", "u2", "u4", "u8"]);
    await create("group", "u1", ["u3", "u5", "u9"], ["u1", "u3", "u5", "u9"]);
    await create("group", "u6", ["u7", "u10", "u11"], ["u6", "u7", "u10", "u11"]);
    await create("large", "u0", [...USERS.slice(1), ...EXTRA_MEMBERS], USERS);
    const membersOf = (c: SoakConversation) => (c.kind === "large" ? USERS : c.senders);

    const subscribers: Subscriber[] = SUBSCRIBERS.map(([u, via]) =>
      via === "ws"
        ? new WsSubscriber(
            `${u}/ws`,
            () => token(u),
            () => target.gatewayUrl,
          )
        : new GrpcSubscriber(
            `${u}/grpc`,
            () => token(u),
            () => target.gatewayUrl,
          ),
    );
    for (const s of subscribers) s.start();
    for (const s of subscribers) await s.waitLive(60_000);

    // Access tokens are renewed as a client would, well inside their lifetime (a slow or long run
    // outlives the first ones); a renewal that fails while auth is down is tried again next time.
    const renewTokens = () =>
      Promise.all(
        USERS.map((u) =>
          t.issue(u, "d1").then(
            (x) => void tokens.set(u, x.accessToken),
            () => undefined,
          ),
        ),
      );
    const renew = setInterval(() => void renewTokens(), 120_000);

    // Memory of every process, sampled over the run.
    const rss = new Map<string, number[]>();
    const sample = setInterval(() => {
      for (const [name, pid] of target.pids()) {
        const m = rssMiB(pid);
        if (m !== undefined) rss.set(name, [...(rss.get(name) ?? []), m]);
      }
    }, 2_000);

    const senders = new Senders(target.gatewayUrl, token, { attemptTimeoutMs: 10_000, budgetMs: 90_000 });
    const weights = conversations.map((c) => (c.kind === "large" ? 3 : c.kind === "group" ? 1.2 : 0.9));
    const total = weights.reduce((a, b) => a + b, 0);
    const pick = () => {
      let r = Math.random() * total;
      for (let i = 0; i < conversations.length; i++) if ((r -= weights[i]!) <= 0) return conversations[i]!;
      return conversations[conversations.length - 1]!;
    };
    const started = Date.now();
    let sending = true;
    const load = (async () => {
      for (let n = 0; sending; n++) {
        const c = pick();
        void senders.send(c, c.senders[Math.floor(Math.random() * c.senders.length)]!).catch(() => undefined);
        const next = started + ((n + 1) * 1000) / profile.rate;
        await sleep(Math.max(0, next - Date.now()));
      }
    })();

    // Faults: each kind `perKind` times in a random order, at random points of evenly spaced slots.
    const plan = target.faultKinds.flatMap((k) => Array.from({ length: profile.perKind }, () => k)).sort(() => Math.random() - 0.5);
    const window = profile.durationS * 1000 - profile.warmupS * 1000 - profile.settleS * 1000;
    const slot = window / Math.max(1, plan.length);
    const faults: { kind: string; at: number; restartMs: number; recoveryMs: number; firstAckMs: number; stuck?: string }[] = [];
    for (let i = 0; i < plan.length; i++) {
      const at = started + profile.warmupS * 1000 + i * slot + Math.random() * slot * 0.5;
      await sleep(Math.max(0, at - Date.now()));
      const kind = plan[i]!;
      const { killedAt, restartedAt } = await target.killAndRestart(kind);
      // Recovered: the process listens again, a send begun after the kill was acknowledged, and
      // every subscriber is live (resumed) again.
      let firstAck = Infinity;
      let stuck: string | undefined;
      for (;;) {
        for (const s of senders.sends.values()) if (s.ack && s.firstAttemptAt >= killedAt && s.ack.at < firstAck) firstAck = s.ack.at;
        if (firstAck !== Infinity && subscribers.every((s) => s.live)) break;
        if (Date.now() - killedAt > RECOVERY_LIMIT_MS) {
          const down = subscribers.filter((s) => !s.live).map((s) => `${s.name} (${s.outages[s.outages.length - 1]?.reason ?? "never connected"})`);
          stuck = `${firstAck === Infinity ? "no send begun after the kill acknowledged; " : ""}not live: ${down.join(", ") || "none"}`;
          break;
        }
        await sleep(50);
      }
      const recoveredAt = stuck ? NaN : Math.max(restartedAt, firstAck, ...subscribers.flatMap((s) => s.outages.filter((o) => o.endedAt >= killedAt).map((o) => o.resumedAt ?? Date.now())));
      faults.push({ kind, at: killedAt - started, restartMs: restartedAt - killedAt, recoveryMs: recoveredAt - killedAt, firstAckMs: firstAck - killedAt, ...(stuck ? { stuck } : {}) });
    }
    await sleep(Math.max(0, started + profile.durationS * 1000 - Date.now()));
    sending = false;
    await load;
    await senders.drain();
    clearInterval(sample);

    // The logs as they ended, read by a member of each conversation.
    const logs = new Map<string, LoggedEvent[]>();
    for (const c of conversations) logs.set(c.id, await senders.readLog(c.id, c.senders[0]!));
    const subscribed = SUBSCRIBERS.map(([u]) => conversations.filter((c) => membersOf(c).includes(u)).map((c) => c.id));
    const verdictNow = () =>
      checkLedger(
        senders.sends.values(),
        logs,
        subscribers.map((s, i) => ({ name: s.name, conversations: subscribed[i]!, deliveries: s.deliveries })),
      );
    // Live delivery gets a few seconds to finish; then every subscriber resumes once more, as a
    // client coming back would, and the verdict is taken on both.
    const settleUntil = Date.now() + 15_000;
    while (Date.now() < settleUntil && verdictNow().subscribers.some((v) => v.missing > 0)) await sleep(250);
    const live = verdictNow();
    for (const s of subscribers) await s.stop();
    await renewTokens();
    for (const s of subscribers) s.start();
    const finalResume = await Promise.all(subscribers.map((s) => s.waitLive(60_000))).then(
      () => "ok",
      (err: unknown) => String(err),
    );
    await sleep(2_000);
    for (const s of subscribers) await s.stop();
    clearInterval(renew);
    const verdict = verdictNow();
    // A subscriber's stream or connection that ended INTERNAL or UNKNOWN away from every fault is
    // a server's error, not a kill's: a Subscribe forwarded by the gateway was once seen ending
    // INTERNAL under load while the socket service logged success.
    const faultWindows = faults.map((f) => [started + f.at - 1_000, started + f.at + (Number.isFinite(f.recoveryMs) ? f.recoveryMs : RECOVERY_LIMIT_MS) + 5_000] as const);
    const serverErrors = subscribers.flatMap((s) =>
      s.outages.filter((o) => /\[(internal|unknown)\]|^error frame (2|13):/i.test(o.reason) && !faultWindows.some(([from, to]) => o.endedAt >= from && o.endedAt <= to)).map((o) => `${s.name}: ${o.reason}`),
    );

    const report = {
      mode: profile.mode,
      profile: profile.name,
      logs: target.logs(),
      finalResume,
      durationS: Math.round((Date.now() - started) / 1000),
      rate: profile.rate,
      conversations: conversations.length,
      verdict: { ...verdict, subscribers: verdict.subscribers },
      missingBeforeFinalResume: live.subscribers.map((v) => ({ name: v.name, missing: v.missing, sample: v.missingSample })),
      subscriberStats: subscribers.map((s) => ({
        name: s.name,
        resumes: s.resumes,
        checkpoints: s.checkpoints,
        limitedCatchups: s.limitedCatchups,
        disconnects: s.outages.length,
        reasons: [...new Set(s.outages.map((o) => o.reason))],
      })),
      serverErrors,
      faults,
      recovery: Object.fromEntries(
        [...new Set(faults.map((f) => f.kind))].map((k) => {
          const ms = faults.filter((f) => f.kind === k).map((f) => f.recoveryMs);
          return [k, { n: ms.length, p50Ms: quantile(ms, 0.5), maxMs: Math.max(...ms) }];
        }),
      ),
      recoveryAll: {
        p50Ms: quantile(
          faults.map((f) => f.recoveryMs),
          0.5,
        ),
        maxMs: Math.max(...faults.map((f) => f.recoveryMs)),
      },
      ackLatencyMs: (() => {
        const ms = [...senders.sends.values()].flatMap((s) => (s.ack ? [s.ack.at - s.firstAttemptAt] : []));
        return { p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), max: Math.max(...ms) };
      })(),
      failureCodes: Object.fromEntries([...senders.sends.values()].flatMap((s) => s.failures).reduce((m, c) => m.set(c, (m.get(c) ?? 0) + 1), new Map<string, number>())),
      rssMiB: Object.fromEntries([...rss].map(([name, v]) => [name, { first: v[0], max: Math.max(...v), last: v[v.length - 1] }])),
    };
    const file = process.env.CAAS_SOAK_REPORT ?? join(repoRoot, "tests/soak/results", `${profile.mode}-${profile.name}-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
    mkdirSync(join(file, ".."), { recursive: true });
    writeFileSync(
      file,
      JSON.stringify(report, (_, v: unknown) => (typeof v === "bigint" ? Number(v) : v), 2),
    );
    console.log(
      `soak report ${file}\n${JSON.stringify({ ...report, verdict: { ...verdict, subscribers: undefined }, subscribers: verdict.subscribers }, (_, v: unknown) => (typeof v === "bigint" ? Number(v) : v))}`,
    );

    expect(faults.map((f) => f.kind).sort()).toEqual([...plan].sort());
    expect(faults.filter((f) => f.stuck)).toEqual([]);
    expect(finalResume).toBe("ok");
    expect(verdict.acked).toBeGreaterThan(profile.rate * profile.durationS * 0.5);
    expect(verdict.lostAcks).toEqual([]);
    expect(verdict.duplicatedAcks).toEqual([]);
    expect(verdict.duplicateClientIds).toEqual([]);
    expect(verdict.conflictingAcks).toBe(0);
    expect(verdict.seqGaps).toEqual([]);
    expect(verdict.abandoned).toBe(0);
    expect(serverErrors).toEqual([]);
    expect(verdict.subscribers.map((v) => [v.name, v.missing, v.missingSample])).toEqual(verdict.subscribers.map((v) => [v.name, 0, []]));
    expect(live.subscribers.map((v) => [v.name, v.missing, v.missingSample])).toEqual(live.subscribers.map((v) => [v.name, 0, []]));
    passed = true;
  }, 7_200_000);
});
