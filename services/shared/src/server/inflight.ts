import type { Interceptor } from "@connectrpc/connect";

/** Counts RPCs in progress (a stream counts until it ends) so shutdown can wait for them. */
export class InflightTracker {
  private count = 0;
  private waiters: (() => void)[] = [];

  readonly interceptor: Interceptor = (next) => async (req) => {
    this.count++;
    let done = false;
    const exit = () => {
      if (done) return;
      done = true;
      this.count--;
      if (this.count === 0) for (const w of this.waiters.splice(0)) w();
    };
    try {
      const res = await next(req);
      if (!res.stream) {
        exit();
        return res;
      }
      const source = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* source;
          } finally {
            exit();
          }
        })(),
      };
    } catch (e) {
      exit();
      throw e;
    }
  };

  get active(): number {
    return this.count;
  }

  /** Resolves when nothing is in flight, or after `timeoutMs`; true when idle. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}
