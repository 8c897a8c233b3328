import { AsyncResource } from "node:async_hooks";
import { Code, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import { createAsyncIterable, getAbortSignalReason, validateReadWriteMaxBytes, type UniversalClientFn, type UniversalHandler } from "@connectrpc/connect/protocol";
import { createTransport } from "@connectrpc/connect/protocol-grpc";
import { boundErrorMetadata } from "./server/error-metadata-bound.js";

/**
 * Why an in-process call was refused before it reached a handler: the instance has begun to shut
 * down (its listener refuses connections from then on). Nothing was sent, so the call may go to
 * another instance, as after a refused connection.
 */
export class InProcessRefusal extends Error {
  constructor(readonly service: string) {
    super(`${service} is shutting down and takes no new calls`);
    this.name = "InProcessRefusal";
  }
}

export interface InProcessClientOptions {
  /** The service's name, for the refusal's message. */
  service: string;
  /** The handlers the service's listener runs, by request path (createRpcHandlers). */
  paths: ReadonlyMap<string, UniversalHandler>;
  /** False once the instance stops taking calls (its listener closing): calls are refused with UNAVAILABLE. */
  accepting: () => boolean;
}

/**
 * An HTTP client (connect's UniversalClientFn) that hands each request to the service's own
 * handlers in this process: the same interceptors (correlation id, logging, errors, principal,
 * internal-service guard, validation, in-flight tracking), the same read limits and the same
 * bounded error metadata as a call through the listener, without a socket, HTTP/2 framing or a
 * copy through the kernel. The request is the gRPC protocol's, so deadlines (grpc-timeout), error
 * details (grpc-status-details-bin) and every other header travel as over the network.
 *
 * Differences a caller cannot see but a reader should know: the caller's AbortSignal is the
 * handler's request signal (cancelling the call aborts the handler at once, as a stream reset
 * would); handlers run in the async context the instance started in, not the caller's, so no
 * request scope leaks from caller to callee; responses are not compressed (nothing to save).
 * connect's createUniversalHandlerClient copies the trailers before the body has run, which loses
 * a gRPC response's status: this one hands them over by reference.
 */
export function createInProcessClient(opts: InProcessClientOptions): UniversalClientFn {
  // The context the instance started in (no request scope), where a listener's requests run too.
  const root = new AsyncResource("caas.in-process-call");
  return async (req) => {
    if (!opts.accepting()) throw new ConnectError(`${opts.service}: the instance is shutting down`, Code.Unavailable, undefined, undefined, new InProcessRefusal(opts.service));
    const path = new URL(req.url).pathname;
    const handler = opts.paths.get(path);
    if (!handler) throw new ConnectError(`${opts.service} serves no method ${path}`, Code.Unimplemented);
    const signal = req.signal ?? new AbortController().signal;
    const res = boundErrorMetadata(
      await raceSignal(
        signal,
        root.runInAsyncScope(() =>
          handler({
            body: req.body ?? createAsyncIterable([]),
            httpVersion: "2.0",
            method: req.method,
            url: req.url,
            // A copy: the handler's interceptors may add to the headers they are given.
            header: new Headers(req.header),
            signal,
          }),
        ),
      ),
    );
    const body = res.body ?? createAsyncIterable([]);
    return {
      status: res.status,
      header: res.header ?? new Headers(),
      // The handler's own trailers object: a gRPC status is written into it once the body has run.
      trailer: res.trailer ?? new Headers(),
      body: {
        [Symbol.asyncIterator]() {
          const it = body[Symbol.asyncIterator]();
          return {
            // A cancelled call stops waiting at once, as when a stream is reset under a read.
            next: () =>
              raceSignal(
                signal,
                root.runInAsyncScope(() => it.next()),
              ),
            // connect's reader ends a cancelled stream through these (makeIterableAbortable).
            return: (value?: unknown) => (it.return ? root.runInAsyncScope(() => it.return!(value)) : Promise.resolve({ done: true as const, value: undefined })),
            throw: (e?: unknown) => (it.throw ? root.runInAsyncScope(() => it.throw!(e)) : Promise.reject(e)),
          };
        },
      },
    };
  };
}

/**
 * A gRPC transport over an in-process client: the message is serialized and framed as on the
 * wire (so the handler's read limit applies to the same bytes), then handed over in memory.
 * Interceptors and the default deadline are the loopback transport's.
 */
export function createInProcessTransport(httpClient: UniversalClientFn, baseUrl: string, interceptors: Interceptor[], defaultTimeoutMs: number | undefined): Transport {
  return createTransport({
    httpClient,
    baseUrl,
    useBinaryFormat: true,
    interceptors,
    acceptCompression: [],
    sendCompression: null,
    defaultTimeoutMs,
    // connect-node's defaults for its HTTP/2 transport: the limits are the server's to enforce.
    ...validateReadWriteMaxBytes(undefined, undefined, undefined),
  });
}

/** Settles as `promise` does, or rejects with the signal's reason once it aborts first. */
function raceSignal<T>(signal: AbortSignal, promise: Promise<T>): Promise<T> {
  if (signal.aborted) return Promise.reject(getAbortSignalReason(signal));
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(getAbortSignalReason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return Promise.race([aborted, promise]).finally(() => signal.removeEventListener("abort", onAbort));
}
