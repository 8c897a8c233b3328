import type http from "node:http";
import http2 from "node:http2";
import type { ConnectError } from "@connectrpc/connect";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import {
  codeToHttpStatus,
  contentTypeStreamRegExp,
  contentTypeUnaryRegExp,
  createEndStreamSerialization,
  endStreamFlag,
  errorToJsonBytes,
  parseTimeout as parseConnectTimeout,
} from "@connectrpc/connect/protocol-connect";
import { contentTypeRegExp as grpcContentType, parseTimeout as parseGrpcTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { contentTypeRegExp as grpcWebContentType, trailerFlag, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

/** The RPC protocols a request can speak on the one-port listener, as its content type and HTTP version say. */
export type RpcProtocol = "grpc" | "grpc-web" | "grpc-web-text" | "connect-unary" | "connect-stream";

/** What a request's headers alone say about its call: the protocol and codec, and the caller's deadline. */
export interface RpcRequestHead {
  protocol: RpcProtocol;
  /** Protobuf (true) or JSON codec. */
  binary: boolean;
  /** The caller's deadline in ms from now (grpc-timeout, connect-timeout-ms), when it set one. */
  timeoutMs: number | undefined;
}

const endStream = createEndStreamSerialization(undefined);

/**
 * Reads an RPC request's protocol and deadline from its headers, as connect-es's handlers do, or
 * undefined for anything it would not serve as such (not a POST, an unknown content type, gRPC over
 * HTTP/1.1, grpc-web-text with JSON, a malformed timeout): those are left to the RPC stack, which
 * answers them with its own errors.
 */
export function rpcRequestHead(req: NodeRequest): RpcRequestHead | undefined {
  if (req.method !== "POST") return undefined;
  const type = req.headers["content-type"];
  if (typeof type !== "string") return undefined;
  let protocol: RpcProtocol;
  let binary: boolean;
  let timeout: { timeoutMs?: number; error?: ConnectError };
  if (type.startsWith("application/grpc-web")) {
    const m = grpcWebContentType.exec(type);
    if (!m) return undefined;
    protocol = m[1] ? "grpc-web-text" : "grpc-web";
    binary = m[2] === undefined;
    // The listener serves grpc-web-text with protobuf only (grpc-web-text.ts).
    if (protocol === "grpc-web-text" && !binary) return undefined;
    timeout = parseGrpcTimeout(headerOf(req, "grpc-timeout"), Number.MAX_SAFE_INTEGER);
  } else if (type.startsWith("application/grpc")) {
    const m = grpcContentType.exec(type);
    // gRPC needs HTTP/2's trailers.
    if (!m || req.httpVersionMajor !== 2) return undefined;
    protocol = "grpc";
    binary = m[1] === undefined;
    timeout = parseGrpcTimeout(headerOf(req, "grpc-timeout"), Number.MAX_SAFE_INTEGER);
  } else if (contentTypeUnaryRegExp.test(type) || contentTypeStreamRegExp.test(type)) {
    protocol = contentTypeUnaryRegExp.test(type) ? "connect-unary" : "connect-stream";
    binary = /proto$/i.test(type);
    timeout = parseConnectTimeout(headerOf(req, "connect-timeout-ms"), Number.MAX_SAFE_INTEGER);
  } else {
    return undefined;
  }
  if (timeout.error) return undefined;
  return { protocol, binary, timeoutMs: timeout.timeoutMs };
}

/**
 * Answers an RPC request with `error` without reading its body, in the form the RPC stack would
 * (connect-es's handlers and the listener's gRPC-web text mode), so that every client reads the
 * same code, message and details (e.g. a RetryInfo) as from the stack:
 * - gRPC: a trailers-only response, one HEADERS frame ending the stream (HTTP 200, grpc-status,
 *   grpc-message, grpc-status-details-bin with the google.rpc.Status of the details);
 * - gRPC-web: HTTP 200 and a body of one trailer frame carrying the same fields (base64 for
 *   grpc-web-text);
 * - Connect unary: the code's HTTP status (429 for RESOURCE_EXHAUSTED) and the JSON error body;
 * - Connect streams: HTTP 200 and a body of one end-of-stream message with the error.
 * Headers already set on `res` (the gateway's CORS headers) go out too. A body the client is
 * still sending is cut off as the listener does once an answer is complete (RST_STREAM NO_ERROR on
 * HTTP/2; Node reads and discards the rest on HTTP/1.1).
 */
export function answerWithError(req: NodeRequest, res: NodeResponse, head: RpcRequestHead, error: ConnectError): void {
  switch (head.protocol) {
    case "grpc": {
      const stream = (req as http2.Http2ServerRequest).stream;
      const headers: http2.OutgoingHttpHeaders = { ...res.getHeaders(), ":status": 200, "content-type": head.binary ? "application/grpc+proto" : "application/grpc+json" };
      setTrailerStatus(new Headers(), error).forEach((value, key) => (headers[key] = value));
      stream.respond(headers, { endStream: true });
      if (!stream.state.remoteClose) stream.close(http2.constants.NGHTTP2_NO_ERROR);
      return;
    }
    case "grpc-web":
    case "grpc-web-text": {
      const frame = encodeEnvelope(trailerFlag, trailerSerialize(setTrailerStatus(new Headers(), error)));
      if (head.protocol === "grpc-web") write(res, 200, head.binary ? "application/grpc-web+proto" : "application/grpc-web+json", frame);
      else write(res, 200, "application/grpc-web-text+proto", Buffer.from(Buffer.from(frame).toString("base64"), "latin1"));
      return;
    }
    case "connect-unary":
      error.metadata.forEach((value, key) => res.setHeader(key, value));
      write(res, codeToHttpStatus(error.code), "application/json", errorToJsonBytes(error, undefined));
      return;
    case "connect-stream":
      write(res, 200, head.binary ? "application/connect+proto" : "application/connect+json", encodeEnvelope(endStreamFlag, endStream.serialize({ metadata: new Headers(), error })));
      return;
  }
}

function write(res: NodeResponse, status: number, contentType: string, body: Uint8Array): void {
  res.writeHead(status, { "content-type": contentType, "content-length": String(body.byteLength) });
  res.end(body);
}

function headerOf(req: NodeRequest, name: string): string | null {
  const v = req.headers[name];
  return typeof v === "string" ? v : null;
}
