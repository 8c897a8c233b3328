import type { Interceptor } from "@connectrpc/connect";
import { toConnectError } from "../errors.js";

/** Maps domain errors to Connect codes, for unary calls and for errors raised mid-stream. */
export function createErrorInterceptor(): Interceptor {
  return (next) => async (req) => {
    try {
      const res = await next(req);
      if (!res.stream) return res;
      const source = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* source;
          } catch (e) {
            throw toConnectError(e);
          }
        })(),
      };
    } catch (e) {
      throw toConnectError(e);
    }
  };
}
