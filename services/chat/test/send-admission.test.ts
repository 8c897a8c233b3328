import { describe, expect, it } from "vitest";
import { ResourceExhaustedError } from "@caas/shared/errors";
import { SendAdmission } from "../src/send-admission.js";

/** A send the test finishes by hand, on a clock the test moves. */
function world(max = 64, retryAfterMs = 500, targetMs = 60_000) {
  let now = 1_000_000;
  const admission = new SendAdmission({ max, retryAfterMs, targetMs, now: () => now });
  const start = (remainingMs: number | undefined) => {
    let finish!: () => void;
    const done = admission.run(remainingMs, () => new Promise<void>((r) => (finish = r)));
    return { done, finish: () => finish() };
  };
  /** `n` sends, `perSec` of them finishing each second one after another (the instance's pace). */
  const measure = async (n: number, perSec: number) => {
    for (let i = 0; i < n; i++) {
      const s = start(undefined);
      now += 1000 / perSec;
      s.finish();
      await s.done;
    }
  };
  const refusal = async (remainingMs: number | undefined) => {
    const s = start(remainingMs);
    return s.done.then(
      () => undefined,
      (err: unknown) => err as ResourceExhaustedError,
    );
  };
  return { admission, start, measure, refusal, advance: (ms: number) => (now += ms) };
}

describe("SendAdmission", () => {
  it("without a measurement admits up to its bound, then refuses RESOURCE_EXHAUSTED with the configured delay", async () => {
    const w = world(3, 750);
    const held = [w.start(100), w.start(100), w.start(100)];
    expect(w.admission.inProgress).toBe(3);
    const refused = w.start(100);
    await expect(refused.done).rejects.toBeInstanceOf(ResourceExhaustedError);
    await expect(refused.done).rejects.toMatchObject({ retryAfterMs: 750 });
    for (const h of held) h.finish();
    await Promise.all(held.map((h) => h.done));
    expect(w.admission.inProgress).toBe(0);
  });

  it("measures sends finished per second of busy time", async () => {
    const w = world();
    expect(w.admission.throughput()).toBeUndefined();
    await w.measure(20, 5);
    expect(w.admission.throughput()).toBeCloseTo(5, 5);
    // Idle time does not count against the instance.
    w.advance(3_000);
    expect(w.admission.throughput()).toBeCloseTo(5, 5);
    // Old completions leave the window.
    w.advance(20_000);
    expect(w.admission.throughput()).toBeUndefined();
  });

  it("refuses a send it cannot finish within the caller's remaining deadline, naming the time to drain", async () => {
    const w = world(64, 200);
    await w.measure(20, 5);
    // Four in progress at 5/s: a fifth expects about 1 s here.
    const held = [w.start(10_000), w.start(10_000), w.start(10_000), w.start(10_000)];
    const refused = await w.refusal(1_000);
    expect(refused).toBeInstanceOf(ResourceExhaustedError);
    // The four in progress drain in 0.8 s (all sends asked for so far were admitted).
    expect(refused!.retryAfterMs).toBe(800);
    expect(w.admission.inProgress).toBe(4);
    // A caller with time enough, or one without a deadline, is admitted.
    const patient = w.start(2_000);
    const timeless = w.start(undefined);
    expect(w.admission.inProgress).toBe(6);
    for (const s of [...held, patient, timeless]) s.finish();
    await Promise.all([...held, patient, timeless].map((s) => s.done));
  });

  it("refuses a send expected past its target even when the caller's deadline is far", async () => {
    const w = world(64, 200, 1_000);
    await w.measure(20, 5);
    const held = [w.start(30_000), w.start(30_000), w.start(30_000), w.start(30_000)];
    // A fifth waits about 0.8 s behind the four: within the target.
    const fifth = w.start(30_000);
    expect(w.admission.inProgress).toBe(5);
    // A sixth would wait 1 s, a seventh... : past it, whatever the deadline (or with none).
    const sixth = w.start(30_000);
    expect(w.admission.inProgress).toBe(6);
    expect(await w.refusal(30_000)).toBeInstanceOf(ResourceExhaustedError);
    expect(await w.refusal(undefined)).toBeInstanceOf(ResourceExhaustedError);
    for (const s of [...held, fifth, sixth]) s.finish();
    await Promise.all([...held, fifth, sixth].map((s) => s.done));
  });

  it("does not count a slow store's own time as waiting: sends that each take 2.5 s alone are still admitted side by side", async () => {
    const w = world(64, 200, 2_000);
    // Ten at a time, each batch done after 2.5 s: 4 sends/s, the fastest 2.5 s.
    for (let round = 0; round < 2; round++) {
      const batch = Array.from({ length: 10 }, () => w.start(undefined));
      w.advance(2_500);
      for (const s of batch) s.finish();
      await Promise.all(batch.map((s) => s.done));
    }
    const ten = Array.from({ length: 10 }, () => w.start(10_000));
    // An eleventh is done in about 2.75 s, 0.25 s of it waiting: admitted.
    const eleventh = w.start(10_000);
    expect(w.admission.inProgress).toBe(11);
    for (const s of [...ten, eleventh]) s.finish();
    await Promise.all([...ten, eleventh].map((s) => s.done));
  });

  it("stretches the retry delay by the demand's excess over what it admitted, up to 10 s", async () => {
    const w = world(4, 1_000);
    const held = [w.start(10_000), w.start(10_000), w.start(10_000), w.start(10_000)];
    // No throughput measured yet: the configured delay, times the sends asked for before this
    // one (4 admitted + n refused) per send admitted.
    expect((await w.refusal(10_000))!.retryAfterMs).toBe(1_000);
    for (let i = 0; i < 30; i++) await w.refusal(10_000);
    expect((await w.refusal(10_000))!.retryAfterMs).toBe(Math.round((1_000 * 35) / 4));
    for (let i = 0; i < 200; i++) await w.refusal(10_000);
    expect((await w.refusal(10_000))!.retryAfterMs).toBe(10_000);
    // Once the refusals leave the window, the delay is the configured one again.
    for (const s of held) s.finish();
    await Promise.all(held.map((s) => s.done));
    w.advance(11_000);
    expect(w.admission.retryAfterMs()).toBe(1_000);
  });

  it("always admits its first sends, so a slow spell's estimate is measured again", async () => {
    const w = world();
    await w.measure(12, 1.5);
    const first = w.start(100);
    const second = w.start(100);
    expect(w.admission.inProgress).toBe(2);
    expect(await w.refusal(100)).toBeInstanceOf(ResourceExhaustedError);
    first.finish();
    second.finish();
    await Promise.all([first.done, second.done]);
  });
});
