import { Code, ConnectError, createConnectRouter, type ConnectRouter, type ConnectRouterOptions } from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import { compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import type http from "node:http";
import type http2 from "node:http2";
import type { Logger } from "../logger.js";
import { withGrpcWebText } from "./grpc-web-text.js";

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

export interface RpcHandlerOptions extends ConnectRouterOptions {
  routes(router: ConnectRouter): void;
  /** Requests for any other path (plain HTTP routes, 404). */
  fallback(req: NodeRequest, res: NodeResponse): void;
  logger: Logger;
}

/**
 * The Node request handler of a service's RPCs: connect-node's `connectNodeAdapter`, plus
 * `application/grpc-web-text` on every method (withGrpcWebText, ADR 0056), and a response the
 * client has already gone from logged at debug through the service's logger rather than printed
 * with console.error.
 */
export function createRpcHandler(opts: RpcHandlerOptions): (req: NodeRequest, res: NodeResponse) => void {
  const { routes, fallback, logger, ...routerOptions } = opts;
  const router = createConnectRouter({ acceptCompression: [compressionGzip, compressionBrotli], ...routerOptions });
  routes(router);
  const paths = new Map<string, UniversalHandler>();
  for (const h of router.handlers) paths.set(h.requestPath, withGrpcWebText(h));
  return (req, res) => {
    const handler = paths.get((req.url ?? "").split("?", 2)[0] ?? "");
    if (!handler) {
      fallback(req, res);
      return;
    }
    const uReq = universalRequestFromNodeRequest(req, res, undefined, undefined);
    handler(uReq)
      .then((uRes) => universalResponseToNodeResponse(uRes, res))
      .catch((reason: unknown) => {
        // Writing to a client that has gone (connect-node reports it as Aborted) is no failure.
        const gone = ConnectError.from(reason).code === Code.Aborted || uReq.signal.aborted;
        const fields = { rpc: `${handler.service.typeName}/${handler.method.name}`, err: reason };
        if (gone) logger.debug(fields, "response not delivered: the client has gone");
        else logger.error(fields, "response failed");
      });
  };
}
