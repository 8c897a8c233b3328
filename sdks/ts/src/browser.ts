import { createConnectTransport } from "@connectrpc/connect-web";
import { createCaasClientWith, type CaasClient, type CaasClientOptions, type PlatformAdapters } from "./client.js";
import type { WebSocketLike } from "./realtime/socket.js";
import type { OutboxStore, QueuedSend } from "./realtime/outbox.js";
import type { CursorStore } from "./realtime/session.js";

export * from "./index.js";

/** Browsers: fetch through connect-web, the page's WebSocket. */
export const browserAdapters: PlatformAdapters = {
  transport: (baseUrl, interceptors) => createConnectTransport({ baseUrl, useBinaryFormat: true, interceptors }),
  webSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
};

/** A client for the gateway at `opts.baseUrl`, for a browser page. */
export function createCaasClient(opts: CaasClientOptions): CaasClient {
  return createCaasClientWith(browserAdapters, opts);
}

/** Keeps the send queue in localStorage under `key`, so queued sends survive a reload. */
export function localStorageOutbox(key: string): OutboxStore {
  return {
    load: () => JSON.parse(localStorage.getItem(key) ?? "[]") as QueuedSend[],
    save: (items) => localStorage.setItem(key, JSON.stringify(items)),
  };
}

/** Keeps the resume cursor in localStorage under `key`. */
export function localStorageCursor(key: string): CursorStore {
  return {
    load: () => localStorage.getItem(key) ?? undefined,
    save: (cursor) => localStorage.setItem(key, cursor),
  };
}
