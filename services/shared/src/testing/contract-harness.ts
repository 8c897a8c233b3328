import type { FakeClock } from "../clock.js";

/**
 * How a contract suite lets time pass for the adapter under test: a fake clock is advanced
 * (adapters timed by an injected `Clock`), or the test really waits (adapters timed by their
 * server, e.g. Redis PX and TIME). Suites keep every wait short (well under a second).
 */
export interface TestTime {
  elapse(ms: number): Promise<void>;
}

export function fakeTime(clock: FakeClock): TestTime {
  return {
    async elapse(ms) {
      clock.advance(ms);
    },
  };
}

/** Real waiting; a few ms extra because a timer and the server's clock may disagree slightly. */
export const realTime: TestTime = {
  elapse: (ms) => new Promise((resolve) => setTimeout(resolve, ms + 10)),
};

/**
 * What a suite's factory returns for one test: two handles on one backend, as two service
 * instances would hold them (the memory adapters are single-process, so both are the same
 * object), and `close` to release connections.
 */
export interface Instances<P> {
  a: P;
  b: P;
  close(): Promise<void>;
}

/** A deliberately unbranded scope, as a cast could produce: adapters must refuse it. */
export const forgedScope = { tenantId: "forged" } as never;
