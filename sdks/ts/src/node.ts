import { createConnectTransport } from "@connectrpc/connect-node";
import WebSocket from "ws";
import { createCaasClientWith, type CaasClient, type CaasClientOptions, type PlatformAdapters } from "./client.js";
import type { WebSocketLike } from "./realtime/socket.js";

export * from "./index.js";

/** Node: connect-node over HTTP/1.1 or HTTP/2, the `ws` package. */
export function nodeAdapters(httpVersion: "1.1" | "2" = "2"): PlatformAdapters {
  return {
    transport: (baseUrl, interceptors) => createConnectTransport({ baseUrl, httpVersion, useBinaryFormat: true, interceptors }),
    webSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
  };
}

/** A client for the gateway at `opts.baseUrl`, for Node (servers, bots, tests). */
export function createCaasClient(opts: CaasClientOptions & { httpVersion?: "1.1" | "2" }): CaasClient {
  return createCaasClientWith(nodeAdapters(opts.httpVersion), opts);
}
