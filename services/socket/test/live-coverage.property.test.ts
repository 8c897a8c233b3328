import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import { FakeClock } from "@caas/shared/clock";
import { advance, ModelClient, ModelInstance, ModelLog, modelEvent, seeded } from "./support/realtime-model.js";

const FAKED = ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "setImmediate", "clearImmediate"] as const;
const CONVERSATIONS = ["c1", "c2", "c3", "c4"];
const SEEDS = 40;
const STEPS = 250;

/**
 * One seeded run: sends through the log, bus deliveries that are late (a broker outage and the
 * relay backlog after it), reordered and repeated, consumers that start or restart from the
 * newest record (an instance restart, a rebalance of a group with nothing committed),
 * reconnects and checkpoints. Returns what went wrong, if anything.
 */
async function run(seed: number, fillHoles: boolean): Promise<{ missing: string[]; overreaching: unknown[]; checkpoints: number }> {
  const rnd = seeded(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const clock = new FakeClock(Date.now());
  const log = new ModelLog(clock, CONVERSATIONS);
  for (const c of CONVERSATIONS) log.commit(c);
  let instance = new ModelInstance(log, clock.nowMs(), { fillHoles });
  const clients = [new ModelClient("bob", log), new ModelClient("ann", log)];
  for (const c of clients) await c.connect(instance);
  const deliveries: Array<{ at: number; event: Event }> = [];
  let outageUntil = 0;

  const schedule = (event: Event, delay: number) => {
    const now = clock.nowMs();
    const at = now < outageUntil ? outageUntil + Math.floor(rnd() * 2_000) : now + delay;
    deliveries.push({ at, event });
    deliveries.sort((a, b) => a.at - b.at);
  };
  const runFor = async (ms: number) => {
    const until = clock.nowMs() + ms;
    while (deliveries.length > 0 && deliveries[0]!.at <= until) {
      const d = deliveries.shift()!;
      if (d.at > clock.nowMs()) await advance(clock, d.at - clock.nowMs());
      instance.consume(d.event, clock.nowMs());
    }
    await advance(clock, until - clock.nowMs());
    for (const c of clients) c.drain();
  };

  for (let step = 0; step < STEPS; step++) {
    const r = rnd();
    if (r < 0.45) {
      const event = modelEvent(log.commit(pick(CONVERSATIONS)));
      // Two relays publish a conversation: mostly at once, sometimes one is slow.
      schedule(event, rnd() < 0.8 ? Math.floor(rnd() * 30) : Math.floor(rnd() * 1_500));
      if (rnd() < 0.1) schedule(event, Math.floor(rnd() * 3_000)); // published twice
    } else if (r < 0.7) {
      await runFor(10 + Math.floor(rnd() * 3_000));
    } else if (r < 0.74) {
      // The instance restarts: connections drop, clients reconnect at once and resume while the
      // new consumer group has yet to join and position itself at the newest record.
      for (const c of clients) c.drop();
      instance.stop();
      instance = new ModelInstance(log, clock.nowMs() + Math.floor(rnd() * 4_000), { fillHoles });
      for (const c of clients) await c.connect(instance);
    } else if (r < 0.78) {
      // One client is away for a while (the other keeps the conversations followed on the instance).
      const c = pick(clients);
      c.drop();
      await runFor(Math.floor(rnd() * 2_000));
      if (rnd() < 0.3) log.failChanges = 1; // chat is restarting: the resume is refused
      await c.connect(instance);
    } else if (r < 0.79) {
      log.failChanges = 1; // a chat instance restarting: the next GetChanges fails (a resume, or a checkpoint)
    } else if (r < 0.8) {
      outageUntil = clock.nowMs() + 5_000 + Math.floor(rnd() * 20_000); // the broker is down
    } else if (r < 0.82) {
      // A rebalance of a group with nothing committed yet: the consumer resolves the newest record again.
      instance.positionedAtMs = clock.nowMs() + Math.floor(rnd() * 3_000);
    } else {
      for (const c of clients) await c.session?.checkpoint();
      await runFor(1);
    }
    // A client whose resume was refused resumes again (after a backoff: some steps later).
    for (const c of clients) if (c.session && c.resumeRefused && rnd() < 0.3) await c.resume();
  }
  // Faults end: everything published reaches the instance, then every client resumes once more.
  outageUntil = 0;
  log.failChanges = 0;
  await runFor(Math.max(0, (deliveries.at(-1)?.at ?? 0) - clock.nowMs()) + 30_000);
  for (const c of clients) {
    c.drop();
    await c.connect(instance);
  }
  instance.stop();
  for (const c of clients) c.drop();
  return {
    // Every event reached every client on one of its connections, not only through its own Sync.
    missing: clients.flatMap((c) => c.missing(true).map((m) => `${c.user}:${m}`)),
    overreaching: clients.flatMap((c) => c.overreaching().map((o) => ({ user: c.user, ...o }))),
    checkpoints: clients.reduce((n, c) => n + c.cursors.filter((r) => r.kind === "checkpoint").length, 0),
  };
}

describe("cursor coverage under reordered, repeated and late deliveries and restarts (seeded model)", () => {
  beforeEach(() => vi.useFakeTimers({ toFake: [...FAKED] }));
  afterEach(async () => {
    await vi.runOnlyPendingTimersAsync();
    vi.useRealTimers();
  });

  it.each([
    { fillHoles: false, minCheckpoints: SEEDS },
    { fillHoles: true, minCheckpoints: SEEDS * 3 },
  ])(
    `every cursor covers only what reached its connection, and every client ends with every event (${SEEDS} seeds, holes filled: $fillHoles)`,
    async ({ fillHoles, minCheckpoints }) => {
      const failures: Array<{ seed: number; missing: string[]; overreaching: unknown[] }> = [];
      let checkpoints = 0;
      for (let seed = 1; seed <= SEEDS; seed++) {
        const { checkpoints: handed, ...got } = await run(seed, fillHoles);
        checkpoints += handed;
        if (got.missing.length > 0 || got.overreaching.length > 0) failures.push({ seed, ...got });
      }
      expect(failures).toEqual([]);
      // Not vacuous: connections still get checkpoints (a hole only blocks the conversations it is in, until the connection resumes).
      expect(checkpoints).toBeGreaterThan(minCheckpoints);
      console.log(`checkpoints handed out over ${SEEDS} seeds: ${checkpoints}`);
    },
    120_000,
  );
});
