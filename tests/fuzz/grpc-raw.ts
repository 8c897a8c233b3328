import http2 from "node:http2";

/** How one raw gRPC call ended. */
export interface RawOutcome {
  /** grpc-status, when the server sent one. */
  status?: number;
  message?: string;
  /** HTTP status of the response headers. */
  httpStatus?: number;
  /** The stream was still open when the client gave up (a streaming RPC that keeps going). */
  open: boolean;
  /** RST_STREAM code when the stream was reset (0 = NO_ERROR). */
  rstCode?: number;
  /** Request bytes the client had not yet handed to HTTP/2 when it gave up on an open call (flow control never let them out). */
  unsentBytes?: number;
  /** A transport failure (session error, refused stream) instead of an answer. */
  transportError?: string;
  /**
   * Set when the stream neither answered nor closed within 5 s of being cancelled: the client's
   * own view of it (its nghttp2 state and the request bytes it never sent), to tell a client that
   * lost its RST_STREAM from a server that went quiet.
   */
  stalled?: { streamId?: number; nghttp2State?: number; unsentBytes: number };
}

/**
 * The fuzzer's HTTP/2 session memory (MB): above what its 32 concurrent cases of up to 6 MiB each
 * can hold unsent (192 MiB). With less, the client's own nghttp2 resets later streams with
 * ENHANCE_YOUR_CALM once big cases wait on flow control: a failure of the client, not the server
 * (the same run passes with no failure with this bound).
 */
const CLIENT_SESSION_MEMORY_MB = 256;

/** HTTP/2 sessions to each base URL, reopened when one closes. */
export class SessionPool {
  private readonly sessions = new Map<string, http2.ClientHttp2Session>();

  get(baseUrl: string): http2.ClientHttp2Session {
    const open = this.sessions.get(baseUrl);
    if (open && !open.closed && !open.destroyed) return open;
    const s = http2.connect(baseUrl, { maxSessionMemory: CLIENT_SESSION_MEMORY_MB });
    s.on("error", () => {});
    this.sessions.set(baseUrl, s);
    return s;
  }

  close(): void {
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
  }
}

/** A new HTTP/2 session to `baseUrl`, outside any pool (an independent connection to replay a case on). */
export function freshSession(baseUrl: string): http2.ClientHttp2Session {
  const s = http2.connect(baseUrl, { maxSessionMemory: CLIENT_SESSION_MEMORY_MB });
  s.on("error", () => {});
  return s;
}

/** Whether `session` answers a PING within `ms`: the connection itself still moves frames both ways. */
export function answersPing(session: http2.ClientHttp2Session, ms = 5_000): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const sent =
      !session.closed &&
      !session.destroyed &&
      session.ping((err) => {
        clearTimeout(timer);
        resolve(!err);
      });
    if (!sent) {
      clearTimeout(timer);
      resolve(false);
    }
  });
}

/** A gRPC length-prefixed frame; `compressed` sets the flag byte (without a grpc-encoding it is a protocol error). */
export function grpcFrame(message: Uint8Array, compressed = false, declaredLength = message.length): Buffer {
  const head = Buffer.alloc(5);
  head[0] = compressed ? 1 : 0;
  head.writeUInt32BE(declaredLength >>> 0, 1);
  return Buffer.concat([head, message]);
}

/**
 * One gRPC call with raw request bytes and headers. A call still open after `openMs` is
 * cancelled and reported as open (server streams such as Subscribe never end by themselves).
 */
export function rawCall(session: http2.ClientHttp2Session, path: string, headers: Record<string, string>, body: Buffer, openMs: number): Promise<RawOutcome> {
  return new Promise((resolve) => {
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...headers });
    } catch (err) {
      resolve({ open: false, transportError: (err as Error).message });
      return;
    }
    const out: RawOutcome = { open: false };
    const take = (h: http2.IncomingHttpHeaders) => {
      const s = h["grpc-status"];
      if (typeof s === "string" && out.status === undefined) {
        out.status = Number(s);
        const m = h["grpc-message"];
        out.message = typeof m === "string" ? decodeURIComponent(m) : "";
      }
    };
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(hard);
      out.rstCode = stream.rstCode;
      resolve(out);
    };
    const timer = setTimeout(() => {
      if (out.status === undefined) {
        out.open = true;
        out.unsentBytes = stream.writableLength;
      }
      stream.close(http2.constants.NGHTTP2_CANCEL);
    }, openMs);
    // A stream that does not even close when cancelled (its session stalled) is reported as such.
    const hard = setTimeout(() => {
      if (out.status === undefined) out.transportError = "no answer and no close within the deadline";
      out.stalled = { streamId: stream.id, nghttp2State: stream.destroyed ? undefined : stream.state.state, unsentBytes: stream.writableLength };
      stream.destroy();
      finish();
    }, openMs + 5_000);
    stream.on("response", (h) => {
      out.httpStatus = Number(h[":status"]);
      take(h);
    });
    stream.on("trailers", (h: http2.IncomingHttpHeaders) => take(h));
    stream.on("data", () => {});
    stream.on("error", (err: Error) => {
      if (out.status === undefined && !out.open) out.transportError = err.message;
    });
    stream.on("close", finish);
    stream.end(body);
  });
}
