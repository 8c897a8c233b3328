import type { UniversalHandler, UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";

/**
 * A connect method handler that runs `wrapped` in place of `handler`, with the handler's routing
 * properties (protocols, service, method, path, allowed HTTP methods, content types), so the router
 * serves the wrapper as it would the original.
 */
export function wrapHandler(handler: UniversalHandler, wrapped: (req: UniversalServerRequest) => Promise<UniversalServerResponse>): UniversalHandler {
  return Object.assign(wrapped, {
    protocolNames: handler.protocolNames,
    service: handler.service,
    method: handler.method,
    requestPath: handler.requestPath,
    allowedMethods: handler.allowedMethods,
    supportedContentType: handler.supportedContentType,
  });
}
