import { Code, ConnectError, createConnectRouter, type ConnectRouter, type ConnectRouterOptions } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import type http from "node:http";
import type http2 from "node:http2";
import type { Logger } from "../logger.js";
import { boundErrorMetadata } from "./error-metadata-bound.js";
import { withGrpcWebText } from "./grpc-web-text.js";
import { withJsonEnumCheck } from "./json-enum-check.js";
import { withRawStreamBody } from "./raw-stream-body.js";

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

export interface RpcHandlerOptions extends ConnectRouterOptions {
  routes: (router: ConnectRouter) => void;
  /** Requests for any other path (plain HTTP routes, 404). */
  fallback: (req: NodeRequest, res: NodeResponse) => void;
  logger: Logger;
}

/**
 * The Node request handler of a service's RPCs: connect-node's `connectNodeAdapter`, plus
 * `application/grpc-web-text` on every method (withGrpcWebText, ADR 0056), gRPC error metadata
 * bounded so it always fits in one header block (boundErrorMetadata, ADR 0139), and a response the
 * client has already gone from logged at debug through the service's logger rather than printed
 * with console.error.
 */
export function createRpcHandler(opts: RpcHandlerOptions): (req: NodeRequest, res: NodeResponse) => void {
  return createRpcHandlers(opts).node;
}

/** A service's RPC handlers: the Node request handler of its listener, and the same handlers by request path (for in-process calls). */
export interface RpcHandlers {
  node: (req: NodeRequest, res: NodeResponse) => void;
  /** Request path (`/pkg.Service/Method`) -> the handler the listener runs for it, with the same interceptors and limits. */
  paths: ReadonlyMap<string, UniversalHandler>;
}

/** As createRpcHandler, also giving the handlers themselves, so in-process callers run exactly what the listener runs. */
export function createRpcHandlers(opts: RpcHandlerOptions): RpcHandlers {
  const { routes, fallback, logger, ...routerOptions } = opts;
  const router = createConnectRouter({ acceptCompression: [compressionGzip, compressionBrotli], ...routerOptions });
  routes(router);
  const paths = new Map<string, UniversalHandler>();
  const maxBytes = opts.readMaxBytes ?? 4 * 1024 * 1024;
  for (const h of router.handlers) paths.set(h.requestPath, withGrpcWebText(withJsonEnumCheck(withRawStreamBody(h), maxBytes)));
  const node = (req: NodeRequest, res: NodeResponse): void => {
    const handler = paths.get((req.url ?? "").split("?", 2)[0] ?? "");
    if (!handler) {
      fallback(req, res);
      return;
    }
    if (opts.readMaxBytes !== undefined && refuseOversizedConnectUnary(req, res, opts.readMaxBytes)) return;
    const uReq = universalRequestFromNodeRequest(req, res, undefined, undefined);
    handler(uReq)
      .then((uRes) => (uRes.status === 429 && isConnectUnary(req) ? sizeRefusalAs413(uRes) : uRes))
      .then((uRes) => universalResponseToNodeResponse(boundErrorMetadata(uRes), res))
      .catch((reason: unknown) => {
        // Writing to a client that has gone (connect-node reports it as Aborted) is no failure.
        const gone = ConnectError.from(reason).code === Code.Aborted || uReq.signal.aborted;
        const fields = { rpc: `${handler.service.typeName}/${handler.method.name}`, err: reason };
        if (gone) logger.debug(fields, "response not delivered: the client has gone");
        else logger.error(fields, "response failed");
      });
  };
  return { node, paths };
}

/** The largest refused HTTP/1.1 body read to its end (and discarded) rather than cut off by closing the connection. */
const DRAIN_MAX_BYTES = 64 * 1024 * 1024;

/** Connect unary requests (not gRPC, gRPC-web or Connect streams): their errors have an HTTP status of their own. */
const CONNECT_UNARY = /^application\/(json|proto)(;|$)/i;

/**
 * A Connect unary request whose declared body is over the read limit is refused before it is
 * read, as INVALID_ARGUMENT with HTTP 413: resending the same body can never succeed, which the
 * RESOURCE_EXHAUSTED / 429 connect-es answers with would tell the client to retry. gRPC and
 * gRPC-web keep RESOURCE_EXHAUSTED, which the gRPC status-code spec prescribes for a message
 * over the configured size (ADR 0075). True when it has answered.
 */
function refuseOversizedConnectUnary(req: NodeRequest, res: NodeResponse, readMaxBytes: number): boolean {
  if (!isConnectUnary(req)) return false;
  const declared = Number(req.headers["content-length"] ?? Number.NaN);
  if (!Number.isFinite(declared) || declared <= readMaxBytes) return false;
  const body = tooLargeBody(`the request body (${declared} bytes) is larger than the limit of ${readMaxBytes} bytes`);
  const headers: Record<string, string> = { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) };
  // HTTP/1.1: once the answer is sent, Node reads and discards the body left unread, so the client
  // can finish its upload and read the 413 (closing at once cut it off mid-write: it saw EPIPE, not
  // this answer) and the connection stays usable. A body too large to be worth reading is cut off.
  if (req.httpVersionMajor === 1 && declared > DRAIN_MAX_BYTES) headers.connection = "close";
  res.writeHead(413, headers);
  res.end(body);
  return true;
}

function isConnectUnary(req: NodeRequest): boolean {
  return req.method === "POST" && CONNECT_UNARY.test(req.headers["content-type"] ?? "");
}

function tooLargeBody(message: string): string {
  return JSON.stringify({ code: "invalid_argument", message });
}

/** connect-es's own refusal of a body over readMaxBytes (a chunked body, no Content-Length) becomes the same 413. */
async function sizeRefusalAs413(uRes: UniversalServerResponse): Promise<UniversalServerResponse> {
  const chunks: Uint8Array[] = [];
  for await (const c of uRes.body ?? []) chunks.push(c);
  const text = Buffer.concat(chunks).toString("utf8");
  let parsed: { message?: unknown } = {};
  try {
    parsed = JSON.parse(text) as { message?: unknown };
  } catch {
    // Not a Connect error body: passed on unchanged below.
  }
  const limit = typeof parsed.message === "string" ? /larger than configured readMaxBytes (\d+)/.exec(parsed.message) : null;
  const body = limit ? Buffer.from(tooLargeBody(`the request body is larger than the limit of ${limit[1]} bytes`)) : Buffer.from(text);
  const header = new Headers(uRes.header);
  header.set("content-length", String(body.length));
  return {
    ...uRes,
    status: limit ? 413 : uRes.status,
    header,
    body: (async function* () {
      yield new Uint8Array(body);
    })(),
  };
}
