import { AsyncLocalStorage } from "node:async_hooks";
import { getAbortSignalReason, type UniversalClientFn, type UniversalClientResponse } from "@connectrpc/connect/protocol";
import type { RawStreamBody } from "./server/raw-stream-body.js";

/** The response body a streaming call made in this scope hands its later messages' bytes to (relayStreamBody). */
const relayTarget = new AsyncLocalStorage<RawStreamBody>();

/**
 * Runs `call` (a server- or bidi-streaming call through a peer client) so that the peer's
 * response body after its first message goes, as the bytes received, to `target`: the body of
 * the response the caller is serving (RawStreamBody), instead of being parsed into messages.
 * The call's message iterable then yields the first message only, and ends (or throws the
 * peer's error, as it would have) once `target`'s reader has taken the peer's last bytes, so
 * the caller's handler, having yielded that first message, sees the stream end at the right
 * time with the peer's status. Calls whose response is not a plain gRPC message stream (an error
 * at once, compressed messages) are not relayed and read as usual.
 */
export function relayStreamBody<T>(target: RawStreamBody, call: () => T): T {
  return relayTarget.run(target, call);
}

/** `client` whose streaming responses go to the relay target of the calling scope, if any (relayStreamBody). */
export function withStreamBodyRelay(client: UniversalClientFn): UniversalClientFn {
  return async (req) => {
    const target = relayTarget.getStore();
    const res = await client(req);
    if (!target || target.source || !relayable(res)) return res;
    return { ...res, body: divert(res.body, target, req.signal) };
  };
}

/** A gRPC response with messages to come: status 200, no status in the headers (a trailers-only error), uncompressed. */
function relayable(res: UniversalClientResponse): boolean {
  const encoding = res.header.get("grpc-encoding");
  return res.status === 200 && !res.header.has("grpc-status") && (encoding === null || encoding === "identity") && /^application\/grpc(\+proto)?$/i.test(res.header.get("content-type") ?? "");
}

/**
 * The peer's body as connect's client reads it: its first whole message, then (once `target`'s
 * reader has had every later byte, which it gets from the source attached before that first
 * message is handed on) its end, or the error reading the peer's body ended with.
 */
function divert(body: AsyncIterable<Uint8Array>, target: RawStreamBody, signal: AbortSignal | undefined): AsyncIterable<Uint8Array> {
  const it = body[Symbol.asyncIterator]();
  let failure: { error: unknown } | undefined;
  let ended!: () => void;
  const sourceEnded = new Promise<void>((resolve) => (ended = resolve));
  async function* source(rest: Uint8Array): AsyncGenerator<Uint8Array> {
    try {
      if (rest.byteLength > 0) yield rest;
      for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
    } catch (error) {
      failure = { error };
    } finally {
      ended();
    }
  }
  return (async function* () {
    let buf: Uint8Array = new Uint8Array(0);
    for (;;) {
      const whole = buf.byteLength >= 5 ? 5 + new DataView(buf.buffer, buf.byteOffset, 5).getUint32(1) : Infinity;
      if (buf.byteLength >= whole) {
        target.attach(source(buf.subarray(whole)));
        yield buf.subarray(0, whole);
        break;
      }
      const r = await it.next();
      if (r.done) {
        // Ended before a whole message: connect's reader reports what is left as it would.
        if (buf.byteLength > 0) yield buf;
        return;
      }
      buf = buf.byteLength === 0 ? r.value : Buffer.concat([buf, r.value]);
    }
    await untilAborted(sourceEnded, signal);
    if (failure) throw failure.error;
  })();
}

/** `ended`, or the signal's reason once it aborts first (a reader that never came, then the call cancelled). */
async function untilAborted(ended: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return ended;
  if (signal.aborted) throw getAbortSignalReason(signal);
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(getAbortSignalReason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    await Promise.race([ended, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
