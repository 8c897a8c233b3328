import type http from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import type { Logger } from "@caas/shared/logger";
import type { PeerDirectory } from "@caas/shared/clients";
import type { OriginPolicy } from "./cors.js";

/** The realtime WebSocket path, the same on the gateway as on a socket instance. */
export const WS_PATH = "/ws";

/** How long a socket instance may take to accept the relay's TCP connection before the next is tried. */
const CONNECT_TIMEOUT_MS = 5_000;

export interface WsRelayOptions {
  peers: PeerDirectory;
  /** Browsers whose Origin is not on the allowlist are refused with 403; clients without Origin pass. */
  origins: OriginPolicy;
  logger: Logger;
  /**
   * Bytes from the socket instance the relay may hold for a client that does not read them; past
   * it the pair is cut (the client as a slow consumer). Without it the relay pauses the instance's
   * side instead, and a paused socket never sees the instance close it.
   */
  maxBufferedBytes?: number;
}

/** The gateway's /ws: the listener hands it HTTP/1.1 upgrades. */
export interface WsRelay {
  onUpgrade: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Cuts every relayed connection (the gateway is going away; clients reconnect and resume). */
  close(): void;
}

/**
 * /ws on the gateway as a byte relay to a socket instance (ADR 0055): the upgrade request is
 * written unchanged (plus X-Forwarded-For) to an instance from the peers directory, round-robin
 * over those not recently unreachable, and from then on bytes are piped both ways. The socket
 * instance does the WebSocket handshake, framing, limits and close codes itself, so the session
 * behaves exactly as when the client connects to the instance directly, and the instance's
 * per-flush coalesced writes reach the client as written. The same path in embedded mode (the
 * socket service's loopback address) and in cluster mode (CAAS_SOCKET_URL).
 */
export function createWsRelay(opts: WsRelayOptions): WsRelay {
  const open = new Set<Duplex>();
  let next = 0;

  function refuse(socket: Duplex, status: string): void {
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }

  function relay(req: http.IncomingMessage, client: Duplex, head: Buffer, candidates: string[]): void {
    const target = candidates.shift();
    if (target === undefined) {
      refuse(client, "502 Bad Gateway");
      return;
    }
    const u = new URL(target);
    const port = Number(u.port) || (u.protocol === "https:" ? 443 : 80);
    const upstream = u.protocol === "https:" ? tls.connect({ host: u.hostname, port, servername: u.hostname }) : net.connect({ host: u.hostname, port });
    upstream.setNoDelay(true);
    upstream.setTimeout(CONNECT_TIMEOUT_MS, () => upstream.destroy(new Error(`no connection to ${target} within ${CONNECT_TIMEOUT_MS} ms`)));
    let connected = false;
    const onConnectError = (err: Error) => {
      if (connected) return;
      opts.peers.markUnavailable(target);
      opts.logger.warn({ target, err: err.message }, "socket instance unreachable for /ws");
      if (!client.destroyed) relay(req, client, head, candidates);
    };
    upstream.once("error", onConnectError);
    upstream.once(u.protocol === "https:" ? "secureConnect" : "connect", () => {
      connected = true;
      upstream.setTimeout(0);
      upstream.off("error", onConnectError);
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      open.add(client);
      client.once("close", () => open.delete(client));
      upstream.write(requestHead(req));
      if (head.length > 0) upstream.write(head);
      // Either side ending or failing ends the other: the pair lives and dies together.
      upstream.on("error", () => client.destroy());
      client.on("error", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
      client.on("close", () => upstream.destroy());
      if (opts.maxBufferedBytes === undefined) upstream.pipe(client);
      else forwardBounded(upstream, client, opts.maxBufferedBytes, () => opts.logger.info({ bytes: client.writableLength }, "/ws relay: client not reading, cut off as a slow consumer"));
      client.pipe(upstream);
    });
  }

  return {
    onUpgrade(req, socket, head) {
      // Bytes the client sends before the relay is connected wait in the socket (pipe resumes it).
      socket.pause();
      const path = (req.url ?? "/").split("?")[0];
      if (path !== WS_PATH) {
        refuse(socket, "404 Not Found");
        return;
      }
      const origin = req.headers.origin;
      if (!opts.origins.admits(origin, req.headers.host)) {
        opts.logger.info({ origin }, "/ws refused: origin not allowed");
        refuse(socket, "403 Forbidden");
        return;
      }
      const instances = opts.peers.available("socket");
      if (instances.length === 0) {
        refuse(socket, "503 Service Unavailable");
        return;
      }
      // Rotate so that connections spread over the instances; the others follow as fallbacks.
      const start = next++ % instances.length;
      relay(req, socket, head, [...instances.slice(start), ...instances.slice(0, start)]);
    },
    close() {
      for (const s of open) s.destroy();
      open.clear();
    },
  };
}

/**
 * Copies `from` to `to` without ever pausing `from`: the socket instance applies its own
 * slow-consumer bound to what it sends, and its close must reach the relay, which a paused socket
 * never reads. What `to` (a client not reading) holds unsent is bounded here: past `max` bytes
 * both ends are destroyed.
 */
function forwardBounded(from: Duplex, to: Duplex, max: number, onCut: () => void): void {
  from.on("data", (chunk: Buffer) => {
    if (to.destroyed) return;
    to.write(chunk);
    if (to.writableLength > max) {
      onCut();
      to.destroy();
      from.destroy();
    }
  });
  from.on("end", () => to.end());
}

/** The upgrade request as it arrived (request line and headers, original case), with X-Forwarded-For added. */
function requestHead(req: http.IncomingMessage): string {
  const lines = [`${req.method ?? "GET"} ${req.url ?? "/"} HTTP/1.1`];
  let forwardedFor = req.socket.remoteAddress ?? "";
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!;
    const value = req.rawHeaders[i + 1]!;
    if (name.toLowerCase() === "x-forwarded-for") forwardedFor = `${value}, ${forwardedFor}`;
    else lines.push(`${name}: ${value}`);
  }
  if (forwardedFor) lines.push(`X-Forwarded-For: ${forwardedFor}`);
  return `${lines.join("\r\n")}\r\n\r\n`;
}
