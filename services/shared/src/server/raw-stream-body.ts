import { createContextKey, createContextValues } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { wrapHandler } from "./handler-wrap.js";

/**
 * Lets a server- or bidi-streaming handler write its messages after the first as bytes that are
 * already enveloped (the 5-byte prefix of gRPC, gRPC-web and the Connect streaming protocol, flag
 * 0: an uncompressed message), straight into the response body, instead of yielding one message
 * object at a time through connect's per-message pipeline (serialize, envelope, join, several
 * async generators and promises per message). A handler that never attaches is served exactly
 * as before.
 *
 * How a handler uses it, on a binary call (the JSON protocols cannot take protobuf envelopes):
 * attach() the source of the later messages' bytes, then yield its first message. connect
 * answers (status and headers) once that first message is serialized; the response body is then
 * that message, then the source's bytes, and only once the source has ended is the handler
 * resumed after its yield: it returns (the stream ends OK) or throws (its error is the trailers,
 * or gRPC-web's trailer message), as for any stream. The source must end when the call's signal
 * aborts (cancellation, deadline, shutdown).
 *
 * Backpressure is the body's: the source is pulled only as fast as the transport takes the bytes
 * (connect-node waits for 'drain'; an in-process caller reads at its own pace).
 */
export class RawStreamBody {
  private attached?: AsyncIterable<Uint8Array>;

  /** The bytes of every message after the first (whole envelopes, any number per chunk); call before yielding the first. */
  attach(source: AsyncIterable<Uint8Array>): void {
    if (this.attached) throw new Error("a raw stream body is attached once");
    this.attached = source;
  }

  /** The attached source, if any. */
  get source(): AsyncIterable<Uint8Array> | undefined {
    return this.attached;
  }
}

/** The call's RawStreamBody (withRawStreamBody); undefined for unary methods and calls not served through it. */
export const rawStreamBodyKey = createContextKey<RawStreamBody | undefined>(undefined, { description: "raw stream body" });

/** `message` as one enveloped message of the gRPC, gRPC-web and Connect streaming protocols (flag 0, big-endian length, the bytes). */
export function envelope(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.byteLength);
  out[0] = 0;
  out.writeUInt32BE(message.byteLength, 1);
  out.set(message, 5);
  return out;
}

/** `handler` with a RawStreamBody in every streaming call's context values, its attached bytes spliced into the response body (see RawStreamBody). */
export function withRawStreamBody(handler: UniversalHandler): UniversalHandler {
  const kind = handler.method.methodKind;
  if (kind !== "server_streaming" && kind !== "bidi_streaming") return handler;
  const wrapped = async (req: UniversalServerRequest): Promise<UniversalServerResponse> => {
    const contextValues = req.contextValues ?? createContextValues();
    const raw = new RawStreamBody();
    contextValues.set(rawStreamBodyKey, raw);
    const res = await handler({ ...req, contextValues });
    const source = raw.source;
    if (!source || !res.body) return res;
    return { ...res, body: splice(res.body, source) };
  };
  return wrapHandler(handler, wrapped);
}

/**
 * connect's body (the first message, later the end of the stream) with `source` between: the
 * handler is resumed after its first yield only once the source has ended, so nothing of
 * connect's can come between the raw bytes.
 */
async function* splice(body: NonNullable<UniversalServerResponse["body"]>, source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const it = body[Symbol.asyncIterator]();
  const src = source[Symbol.asyncIterator]();
  let finished = false;
  try {
    const first = await it.next();
    if (first.done) return;
    yield first.value;
    for (let r = await src.next(); !r.done; r = await src.next()) yield r.value;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
    finished = true;
  } finally {
    // Left early (the transport failed or the caller went): end the source and the handler, as
    // returning connect's own body would (it aborts the handler's context).
    if (!finished) {
      await src.return?.().catch(() => undefined);
      await it.return?.().catch(() => undefined);
    }
  }
}
