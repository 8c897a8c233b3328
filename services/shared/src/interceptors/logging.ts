import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { currentScope } from "../context.js";
import type { Logger } from "../logger.js";

export interface LoggingInterceptorOptions {
  logger: Logger;
  /** The server's shutdown signal: calls it ends are the server's doing, not cancellations by clients. */
  shutdownSignal?: AbortSignal;
}

/**
 * Logs one line per RPC (method, protocol, gRPC code, duration) through the request-scoped logger,
 * so the line carries the correlation id. Internal errors are logged with their cause; the caller
 * only sees "internal error". A call the client ended (it cancelled, hung up, or its process
 * exited: Node reports ERR_STREAM_PREMATURE_CLOSE, ECONNRESET, ...) is logged at debug with code
 * Canceled, whatever the handler made of it: it is not a server error.
 */
export function createLoggingInterceptor(opts: LoggingInterceptorOptions): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const log = () => currentScope()?.logger ?? opts.logger;
    const method = `${req.service.typeName}/${req.method.name}`;
    const done = (err: unknown) => {
      const ms = Math.round((performance.now() - started) * 100) / 100;
      const cerr = err === undefined ? undefined : ConnectError.from(err);
      const code = cerr ? Code[cerr.code] : "OK";
      const fields = { rpc: method, protocol: protocolOf(req.header.get("content-type")), code, ms };
      if (endedByClient(req.signal, err, opts.shutdownSignal)) {
        log().debug({ ...fields, code: Code[Code.Canceled], ...(cerr ? { error: cerr.rawMessage } : {}) }, "rpc ended by the client");
      } else if (cerr && cerr.code === Code.Internal) {
        log().error({ ...fields, err: cerr.cause ?? cerr }, "rpc failed");
      } else if (cerr) {
        log().info({ ...fields, error: cerr.rawMessage }, "rpc");
      } else {
        log().info(fields, "rpc");
      }
    };
    try {
      const res = await next(req);
      if (!res.stream) {
        done(undefined);
        return res;
      }
      const source = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* source;
            done(undefined);
          } catch (e) {
            done(e);
            throw e;
          }
        })(),
      };
    } catch (e) {
      done(e);
      throw e;
    }
  };
}

/** Node's error codes for a request stream whose client went away mid-call. */
const CLIENT_GONE_CODES = new Set(["ERR_STREAM_PREMATURE_CLOSE", "ECONNRESET", "EPIPE", "ERR_STREAM_DESTROYED", "ERR_HTTP2_STREAM_CANCEL", "ERR_HTTP2_INVALID_STREAM"]);

/**
 * True when the call ended because its client did: the request's signal fired for another reason
 * than the deadline or the server's shutdown, or the error is Canceled or one of Node's
 * "the other side is gone" errors (anywhere in its cause chain).
 */
function endedByClient(signal: AbortSignal, err: unknown, shutdown: AbortSignal | undefined): boolean {
  if (shutdown?.aborted) return false;
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    return !(reason instanceof ConnectError && reason.code === Code.DeadlineExceeded);
  }
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof ConnectError && e.code === Code.Canceled) return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && CLIENT_GONE_CODES.has(code)) return true;
  }
  return false;
}

/** "grpc", "grpc-web" or "connect", from the request's content type. */
function protocolOf(contentType: string | null): string {
  if (!contentType) return "unknown";
  if (contentType.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType.startsWith("application/grpc")) return "grpc";
  return "connect";
}
