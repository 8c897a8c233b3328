import { ConnectError } from "@connectrpc/connect";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import { findTrailerError, headerGrpcMessage, headerStatusDetailsBin, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";

/** Bytes of grpc-message (percent-encoded, as sent) at most. */
export const MAX_ERROR_MESSAGE_BYTES = 1024;
/**
 * Bytes of grpc-status-details-bin (base64, as sent) at most. The validation interceptor's 20
 * reported violations take about 4.2 KiB; with the message the trailers stay far under the 64 KiB
 * Node can send in one header block.
 */
export const MAX_STATUS_DETAILS_BYTES = 16 * 1024;

/**
 * Bounds the gRPC error metadata of a response (grpc-message, grpc-status-details-bin) once the
 * handler has set it, in the headers of a trailers-only response and in the trailers.
 *
 * An error message may echo request input (a Health/Check for an unknown 70 kB service name
 * answered "unknown service xxx…"). Node's http2 cannot send a header block over its
 * maxSendHeaderBlockLength (64 KiB): the stream fails with FRAME_SIZE_ERROR, and Node then closes
 * the whole session (lib/internal/http2/core.js onFrameError calls session.close()), so every
 * other stream on that connection is refused: behind a proxy that multiplexes many users on one
 * connection, one request cut off all of them. A long message is cut with a note of how much was
 * left out; details still too large are left out (the code and the message remain).
 */
export function boundErrorMetadata(res: UniversalServerResponse): UniversalServerResponse {
  if (!res.body) {
    boundGrpcStatus(res.header);
    boundGrpcStatus(res.trailer);
    return res;
  }
  const source = res.body;
  return {
    ...res,
    // An iterator passing the body's chunks on, rather than an async generator delegating to it:
    // a stream's every chunk goes through here (twice through the gateway), and a generator
    // step is several promises more.
    body: {
      [Symbol.asyncIterator]() {
        const it = source[Symbol.asyncIterator]();
        return {
          next: () =>
            it.next().then((r) => {
              // connect sets the status once the body is done, before its headers (trailers-only) or trailers are written.
              if (r.done) {
                boundGrpcStatus(res.header);
                boundGrpcStatus(res.trailer);
              }
              return r;
            }),
          return: (value?: unknown) => (it.return ? it.return(value) : Promise.resolve({ done: true as const, value: undefined })),
          throw: (e?: unknown) => (it.throw ? it.throw(e) : Promise.reject(e)),
        };
      },
    },
    // The same Headers objects the handler fills in: read by the writer only after the body ends.
    header: res.header,
    trailer: res.trailer,
  };
}

/** Cuts grpc-message and grpc-status-details-bin in `h` to their bounds (in place). */
export function boundGrpcStatus(h: Headers | undefined): void {
  if (!h?.has(headerGrpcMessage) && !h?.has(headerStatusDetailsBin)) return;
  const message = h.get(headerGrpcMessage) ?? "";
  const details = h.get(headerStatusDetailsBin) ?? "";
  if (message.length <= MAX_ERROR_MESSAGE_BYTES && details.length <= MAX_STATUS_DETAILS_BYTES) return;
  const found = findTrailerError(h);
  if (!found) return;
  const raw = found.rawMessage;
  const kept = encodeURIComponent(raw).length > MAX_ERROR_MESSAGE_BYTES ? `${cutEncoded(raw, MAX_ERROR_MESSAGE_BYTES - 64)}… (${raw.length} characters in all)` : raw;
  h.delete(headerGrpcMessage);
  h.delete(headerStatusDetailsBin);
  const bounded = new ConnectError(kept, found.code);
  bounded.details = found.details;
  setTrailerStatus(h, bounded);
  if ((h.get(headerStatusDetailsBin) ?? "").length > MAX_STATUS_DETAILS_BYTES) h.delete(headerStatusDetailsBin);
}

/** The longest start of `s`, in whole code points, whose percent-encoding has at most `max` bytes (a lone surrogate becomes U+FFFD, which can be encoded). */
function cutEncoded(s: string, max: number): string {
  let used = 0;
  let out = "";
  for (const cp of s) {
    const ch = cp.length === 1 && cp >= "\ud800" && cp <= "\udfff" ? "\ufffd" : cp;
    used += encodeURIComponent(ch).length;
    if (used > max) break;
    out += ch;
  }
  return out;
}
