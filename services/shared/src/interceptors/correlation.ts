import type { Interceptor } from "@connectrpc/connect";
import { correlationIdKey, runInScope } from "../context.js";
import { newId } from "../ids.js";
import type { Logger } from "../logger.js";
import { bindStream } from "./stream-scope.js";

/** Header that carries the correlation id on every hop (HTTP, gRPC metadata, Kafka). */
export const CORRELATION_HEADER = "x-correlation-id";

const VALID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A correlation id a client sent, or a fresh one when it sent none or an unusable one. */
export function acceptCorrelationId(value: string | null | undefined): string {
  return value && VALID.test(value) ? value : newId();
}

/**
 * Accepts `x-correlation-id` from the caller (or generates one), stores it in the context values,
 * echoes it in the response header, and runs the handler inside a request scope so that every
 * outbound generated client and every log line of this request carries it.
 */
export function createCorrelationInterceptor(opts: { logger: Logger }): Interceptor {
  return (next) => async (req) => {
    const correlationId = acceptCorrelationId(req.header.get(CORRELATION_HEADER));
    req.contextValues.set(correlationIdKey, correlationId);
    const scope = {
      correlationId,
      authorization: req.header.get("authorization") ?? undefined,
      deadlineMs: deadlineFromHeaders(req.header),
      logger: opts.logger.child({ correlationId }),
    };
    const res = await runInScope(scope, () => next(req));
    res.header.set(CORRELATION_HEADER, correlationId);
    if (res.stream) {
      return { ...res, message: bindStream(scope, res.message) };
    }
    return res;
  };
}

/** Reads the caller's deadline from grpc-timeout or connect-timeout-ms, as epoch ms. */
function deadlineFromHeaders(h: Headers): number | undefined {
  const connect = h.get("connect-timeout-ms");
  if (connect && /^\d{1,10}$/.test(connect)) return Date.now() + Number(connect);
  const grpc = h.get("grpc-timeout");
  const m = grpc?.match(/^(\d{1,8})([HMSmun])$/);
  if (!m) return undefined;
  const unitMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };
  return Date.now() + Number(m[1]) * (unitMs[m[2]!] ?? 1);
}
