import { runInScope, type RequestScope } from "../context.js";

/**
 * Keeps a streaming response's generator inside the request scope: async generator bodies run in
 * the context of whoever calls `next()`, which is the transport, not the interceptor.
 */
export function bindStream<T>(scope: RequestScope, source: AsyncIterable<T>): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const it = source[Symbol.asyncIterator]();
      return {
        next: (...args: [] | [undefined]) => runInScope(scope, () => it.next(...args)),
        return: (value?: unknown) => runInScope(scope, () => (it.return ? it.return(value as T) : Promise.resolve({ done: true as const, value: undefined as T }))),
        throw: (e?: unknown) => runInScope(scope, () => (it.throw ? it.throw(e) : Promise.reject(e))),
      };
    },
  };
}
