import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { currentScope } from "../context.js";
import type { Logger } from "../logger.js";

/**
 * Logs one line per RPC (method, protocol, gRPC code, duration) through the request-scoped logger,
 * so the line carries the correlation id. Internal errors are logged with their cause; the caller
 * only sees "internal error".
 */
export function createLoggingInterceptor(opts: { logger: Logger }): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const log = () => currentScope()?.logger ?? opts.logger;
    const method = `${req.service.typeName}/${req.method.name}`;
    const done = (err: unknown) => {
      const ms = Math.round((performance.now() - started) * 100) / 100;
      const cerr = err === undefined ? undefined : ConnectError.from(err);
      const code = cerr ? Code[cerr.code] : "OK";
      const fields = { rpc: method, protocol: protocolOf(req.header.get("content-type")), code, ms };
      if (cerr && cerr.code === Code.Internal) {
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

/** "grpc", "grpc-web" or "connect", from the request's content type. */
function protocolOf(contentType: string | null): string {
  if (!contentType) return "unknown";
  if (contentType.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType.startsWith("application/grpc")) return "grpc";
  return "connect";
}
