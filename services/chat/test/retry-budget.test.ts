import { describe, expect, it } from "vitest";
import { ResourceExhaustedError } from "@caas/shared/errors";
import { previousAttempts, sendAttempt } from "../src/retry-budget.js";
import { SendAdmission, type SendAttempt } from "../src/send-admission.js";

/** Sends the test finishes by hand, on a clock the test moves; no throughput is measured, so only the bound and the retry budget decide. */
function world() {
  let now = 1_000_000;
  const admission = new SendAdmission({ max: 1_000, retryAfterMs: 500, targetMs: 60_000, now: () => now });
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

  it("takes on retries up to a fifth of the first attempts plus two over the window, and first attempts whatever the retries", async () => {
    const w = world();
    expect(await w.admitted(1, FIRST)).toBe(1);
    // 2 + 0.2 x 1: the third retry is the last one in.
    expect(await w.admitted(20, RETRY)).toBe(3);
    const refused = await w.start(RETRY);
    expect(refused).toBeInstanceOf(ResourceExhaustedError);
    expect((refused as ResourceExhaustedError).message).toMatch(/retry budget/);
    expect((refused as ResourceExhaustedError).retryAfterMs).toBeGreaterThanOrEqual(500);
    // New sends are not held back by the retries refused.
    expect(await w.admitted(9, FIRST)).toBe(9);
    // 2 + 0.2 x 10 = 4: room for one more retry.
    expect(await w.admitted(5, RETRY)).toBe(1);
    // Once the window has passed, retries are taken on again (the floor: no first attempts in it).
    w.advance(11_000);
    expect(await w.admitted(5, RETRY)).toBe(2);
    await w.finishAll();
  });

  it("stretches a refused retry's delay by the retry demand's excess over the budget, up to 30 s", async () => {
    const w = world();
    expect(await w.admitted(1, FIRST)).toBe(1);
    expect(await w.admitted(3, RETRY)).toBe(3);
    for (let i = 0; i < 7; i++) await w.start(RETRY);
    // 3 retries admitted, 7 refused: the configured 500 ms times 10 / 3.
    expect(((await w.start(RETRY)) as ResourceExhaustedError).retryAfterMs).toBe(Math.round((500 * 10) / 3));
    for (let i = 0; i < 300; i++) await w.start(RETRY);
    expect(((await w.start(RETRY)) as ResourceExhaustedError).retryAfterMs).toBe(30_000);
    // New sends are still taken on.
    expect(await w.admitted(1, FIRST)).toBe(1);
    await w.finishAll();
  });

  it("refuses retries past the budget on an idle instance too (a crowd of retries would fill every idle moment)", async () => {
    const w = world();
    // No first attempts: the floor of two.
    expect(await w.admitted(5, RETRY)).toBe(2);
    await w.finishAll();
    expect(w.admission.inProgress).toBe(0);
    expect(await w.start(RETRY)).toBeInstanceOf(ResourceExhaustedError);
    expect(await w.admitted(1, FIRST)).toBe(1);
    await w.finishAll();
  });

  it("lets the retry of a send committed after its caller had gone through, so its client gets the ack", async () => {
    const w = world();
    expect(await w.admitted(1, FIRST)).toBe(1);
    const gone = new AbortController();
    const orphan = w.start({ retry: false, key: "k", signal: gone.signal });
    expect(await w.admitted(11, RETRY)).toBe(3);
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
});
