import type http from "node:http";
import type http2 from "node:http2";
import type { DescService } from "@bufbuild/protobuf";
import { Code, type ConnectError } from "@connectrpc/connect";
import { ResourceExhaustedError, toConnectError } from "@caas/shared/errors";
import type { Logger } from "@caas/shared/logger";
import { answerWithError, rpcRequestHead } from "@caas/shared/server/early-error";
import type { OutstandingBound } from "./outstanding-bound.js";

type HttpRequest = http.IncomingMessage | http2.Http2ServerRequest;
type HttpResponse = http.ServerResponse | http2.Http2ServerResponse;

/** How often the refusals of one owner are reported, as one log line with their count. */
const REPORT_INTERVAL_MS = 1_000;

/** A forwarded method the outstanding bound counts: its owner, its name for the report, and whether it is unary (else client streaming). */
interface Counted {
  owner: string;
  rpc: string;
  unary: boolean;
}

/** Refusals of one owner since its last report. */
interface Tally {
  refused: number;
  retries: number;
  rpcs: Record<string, number>;
  last: string;
}

export interface EarlyRefusalOptions {
  bound: OutstandingBound;
  /** The forwarded services and their owners (PUBLIC_SERVICES). */
  services: readonly { service: DescService; owner: string }[];
  logger: Logger;
}

/**
 * The listener's filter that refuses a forwarded unary or client-streaming call as soon as its
 * headers are read, when the gateway's outstanding bound would refuse it (outstanding-bound.ts):
 * the bound's owner is the service that owns the procedure (from the request path), and what else
 * it needs, whether the call is a retry (`grpc-previous-rpc-attempts`) and the caller's deadline
 * (`grpc-timeout`, `connect-timeout-ms`), are headers too. The refusal (RESOURCE_EXHAUSTED with the
 * bound's RetryInfo) is written in the request's protocol without the RPC stack (early-error.ts):
 * no request body read, no handler context, no interceptors, no error with a stack trace per call.
 * Through the stack a refusal cost about 0.9 ms of the gateway's CPU (ADR 0207), and under an
 * overload the gateway refuses thousands a second on the core it shares with the owners.
 *
 * Refusals are reported as one warning per owner and second with their count, by procedure,
 * instead of the request log's line per call. A call the bound lets through here goes on through
 * the stack (authentication, the edge rate limits) and is checked by the bound again before it is
 * forwarded. So while an owner is overloaded, a call the bound refuses is refused before its
 * credential is checked: a caller with a bad credential may get RESOURCE_EXHAUSTED where it would
 * otherwise get UNAUTHENTICATED (as behind Envoy's circuit breakers), and it learns nothing else.
 */
export function createEarlyRefusal(opts: EarlyRefusalOptions): (req: HttpRequest, res: HttpResponse) => boolean {
  const counted = new Map<string, Counted>();
  for (const { service, owner } of opts.services) {
    for (const m of service.methods) {
      if (m.methodKind !== "unary" && m.methodKind !== "client_streaming") continue;
      counted.set(`/${service.typeName}/${m.name}`, { owner, rpc: `${service.typeName}/${m.name}`, unary: m.methodKind === "unary" });
    }
  }
  const tallies = new Map<string, Tally>();
  const report = (owner: string) => {
    const t = tallies.get(owner);
    tallies.delete(owner);
    if (t)
      opts.logger.warn({ owner, refused: t.refused, retries: t.retries, rpcs: t.rpcs, code: Code[Code.ResourceExhausted], error: t.last }, "calls refused before the RPC stack (outstanding bound)");
  };
  return (req, res) => {
    const method = counted.get((req.url ?? "").split("?", 1)[0] ?? "");
    if (!method) return false;
    const head = rpcRequestHead(req);
    // Connect's unary form for a client stream (or the reverse) is the stack's to refuse (415).
    if (!head || (head.protocol === "connect-unary" && !method.unary) || (head.protocol === "connect-stream" && method.unary)) return false;
    const retry = Number(req.headers["grpc-previous-rpc-attempts"] ?? 0) > 0;
    const refusal = opts.bound.refusal(method.owner, { retry, remainingMs: head.timeoutMs });
    if (!refusal) return false;
    answerWithError(req, res, head, refusalError(refusal.message, refusal.retryAfterMs));
    let t = tallies.get(method.owner);
    if (!t) {
      tallies.set(method.owner, (t = { refused: 0, retries: 0, rpcs: {}, last: "" }));
      setTimeout(report, REPORT_INTERVAL_MS, method.owner).unref();
    }
    t.refused++;
    if (retry) t.retries++;
    t.rpcs[method.rpc] = (t.rpcs[method.rpc] ?? 0) + 1;
    t.last = refusal.message;
    return true;
  };
}

/**
 * The refusal as the stack's error interceptor would build it (toConnectError: the code, the
 * message, a RetryInfo of the delay), without the two stack traces its errors would capture: nobody
 * reads them, and capturing them was about a third of what was left of an early refusal's CPU.
 */
function refusalError(message: string, retryAfterMs: number): ConnectError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return toConnectError(new ResourceExhaustedError(message, retryAfterMs));
  } finally {
    Error.stackTraceLimit = limit;
  }
}
