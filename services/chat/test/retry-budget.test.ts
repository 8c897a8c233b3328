import { describe, expect, it } from "vitest";
import { ResourceExhaustedError } from "@caas/shared/errors";
import { previousAttempts, sendAttempt } from "../src/send-attempt.js";
import { SendAdmission, type SendAttempt } from "../src/send-admission.js";

/** Sends the test finishes by hand, on a clock the test moves; no throughput is measured, so only the bound of 30 and the retry budget decide. */
function world() {
  let now = 1_000_000;
  const admission = new SendAdmission({ max: 30, retryAfterMs: 500, targetMs: 60_000, now: () => now });
  const held: (() => void)[] = [];
  const start = (attempt: SendAttempt) => {
    // Refused attempts never start their send (and have nothing to finish).
    let finish: (() => void) | undefined;
    const done = admission.run(undefined, () => new Promise<void>((r) => (finish = r)), attempt);
    held.push(() => finish?.());
    return done.then(
      () => "done" as const,
      (err: unknown) => err as ResourceExhaustedError,
    );
  };
  /** Starts `n` attempts and tells how many were admitted (refused ones settle at once). */
  const admitted = async (n: number, attempt: SendAttempt) => {
    const before = admission.inProgress;
    const outcomes = Array.from({ length: n }, () => start(attempt));
    await Promise.resolve();
    await Promise.resolve();
    void outcomes;
    return admission.inProgress - before;
  };
  const finishAll = async () => {
    for (const f of held.splice(0)) f();
    await new Promise((r) => setImmediate(r));
  };
  return { admission, start, admitted, finishAll, advance: (ms: number) => (now += ms) };
}

const FIRST: SendAttempt = { retry: false };
const RETRY: SendAttempt = { retry: true };

describe("the retry budget of the send admission", () => {
  it("reads the retry marker of the caller's headers; no marker or a malformed one is a first attempt", () => {
    expect(previousAttempts(new Headers({ "grpc-previous-rpc-attempts": "3" }))).toBe(3);
    expect(previousAttempts(new Headers())).toBe(0);
    expect(previousAttempts(new Headers({ "grpc-previous-rpc-attempts": "x" }))).toBe(0);
    const ctx = { requestHeader: new Headers({ "grpc-previous-rpc-attempts": "1" }), signal: new AbortController().signal };
    expect(sendAttempt({ scope: { tenantId: "t" }, userId: "u" }, "m1", ctx)).toMatchObject({ retry: true, key: '["t","u","m1"]' });
    expect(sendAttempt({ scope: { tenantId: "t" }, userId: "u" }, "", ctx).key).toBeUndefined();
  });

  /** Fills the instance to its bound and has one more send refused (short of capacity), then finishes them: 30 first attempts admitted. */
  const overload = async (w: ReturnType<typeof world>) => {
    expect(await w.admitted(31, FIRST)).toBe(30);
    await w.finishAll();
  };

  it("takes retries on freely while it has refused nothing for want of capacity (e.g. the sends of a restarted instance)", async () => {
    const w = world();
    expect(await w.admitted(1, FIRST)).toBe(1);
    expect(await w.admitted(20, RETRY)).toBe(20);
    await w.finishAll();
  });

  it("short of capacity, takes on retries up to a fifth of the first attempts plus two over the window, and first attempts whatever the retries", async () => {
    const w = world();
    await overload(w);
    // 2 + 0.2 x 30 = 8.
    expect(await w.admitted(20, RETRY)).toBe(8);
    const refused = await w.start(RETRY);
    expect(refused).toBeInstanceOf(ResourceExhaustedError);
    expect((refused as ResourceExhaustedError).message).toMatch(/retry budget/);
    expect((refused as ResourceExhaustedError).retryAfterMs).toBeGreaterThanOrEqual(500);
    // New sends are not held back by the retries refused.
    expect(await w.admitted(5, FIRST)).toBe(5);
    // 2 + 0.2 x 35 = 9: room for one more retry.
    expect(await w.admitted(5, RETRY)).toBe(1);
    // Once the refusal for want of capacity has left the window, retries are taken on freely again.
    w.advance(11_000);
    expect(await w.admitted(5, RETRY)).toBe(5);
    await w.finishAll();
  });

  it("stretches a refused retry's delay by the retry demand's excess over the budget, up to 30 s", async () => {
    const w = world();
    await overload(w);
    expect(await w.admitted(8, RETRY)).toBe(8);
    for (let i = 0; i < 16; i++) await w.start(RETRY);
    // 8 retries admitted, 16 refused: the configured 500 ms times 24 / 8 (the usual delay is shorter: 500 ms x 55 asked / 38 admitted).
    expect(((await w.start(RETRY)) as ResourceExhaustedError).retryAfterMs).toBe(1_500);
    for (let i = 0; i < 600; i++) await w.start(RETRY);
    expect(((await w.start(RETRY)) as ResourceExhaustedError).retryAfterMs).toBe(30_000);
    // New sends are still taken on.
    expect(await w.admitted(1, FIRST)).toBe(1);
    await w.finishAll();
  });

  it("short of capacity, refuses retries past the budget on an idle instance too (a crowd of retries would fill every idle moment)", async () => {
    const w = world();
    await overload(w);
    expect(await w.admitted(20, RETRY)).toBe(8);
    await w.finishAll();
    expect(w.admission.inProgress).toBe(0);
    expect(await w.start(RETRY)).toBeInstanceOf(ResourceExhaustedError);
    expect(await w.admitted(1, FIRST)).toBe(1);
    await w.finishAll();
  });

  it("lets the retry of a send committed after its caller had gone through, so its client gets the ack", async () => {
    const w = world();
    await overload(w);
    const gone = new AbortController();
    const orphan = w.start({ retry: false, key: "k", signal: gone.signal });
    // 2 + 0.2 x 31.
    expect(await w.admitted(11, RETRY)).toBe(9);
    expect(await w.start({ retry: true, key: "k" })).toBeInstanceOf(ResourceExhaustedError);
    // The caller leaves, then the send commits.
    gone.abort();
    await w.finishAll();
    expect(await orphan).toBe("done");
    expect(await w.admitted(1, FIRST)).toBe(1);
    expect(await w.start({ retry: true, key: "other" })).toBeInstanceOf(ResourceExhaustedError);
    expect(await w.admitted(1, { retry: true, key: "k" })).toBe(1);
    await w.finishAll();
  });

  it("lets the retry of any send it committed through: its answer may have reached the client too late, which is as lost", async () => {
    const w = world();
    await overload(w);
    const answered = w.start({ retry: false, key: "late" });
    expect(await w.admitted(11, RETRY)).toBe(9);
    await w.finishAll();
    expect(await answered).toBe("done");
    expect(await w.admitted(1, FIRST)).toBe(1);
    expect(await w.start({ retry: true, key: "never-committed" })).toBeInstanceOf(ResourceExhaustedError);
    expect(await w.admitted(1, { retry: true, key: "late" })).toBe(1);
    await w.finishAll();
  });
});
