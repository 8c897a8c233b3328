import net from "node:net";
import { exemptionList } from "../config-connections.js";

/** The client address of a socket, IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as plain IPv4. */
export function clientAddress(socket: net.Socket): string {
  const a = socket.remoteAddress ?? "";
  return a.startsWith("::ffff:") && net.isIPv4(a.slice(7)) ? a.slice(7) : a;
}

/**
 * Open connections per client address, bounded: `admit` says whether one more may be served and
 * counts it until `release`. Exempt addresses (proxies, peers, loopback by default) are not
 * counted: every client behind a proxy shares its address.
 */
export class AddressLimit {
  private readonly open = new Map<string, number>();
  private readonly exempt: net.BlockList;

  constructor(
    readonly max: number,
    exemptAddresses: readonly string[],
  ) {
    this.exempt = exemptionList(exemptAddresses);
  }

  /** True (and counted) when `address` may open one more connection; 0 as `max` admits all. */
  admit(address: string): boolean {
    if (this.max <= 0 || this.isExempt(address)) return true;
    const n = this.open.get(address) ?? 0;
    if (n >= this.max) return false;
    this.open.set(address, n + 1);
    return true;
  }

  /** Ends the count of one connection `admit` let in. */
  release(address: string): void {
    const n = this.open.get(address);
    if (n === undefined) return;
    if (n <= 1) this.open.delete(address);
    else this.open.set(address, n - 1);
  }

  /** Connections counted for `address` (exempt addresses are never counted). */
  count(address: string): number {
    return this.open.get(address) ?? 0;
  }

  private isExempt(address: string): boolean {
    const family = net.isIP(address);
    return family !== 0 && this.exempt.check(address, family === 4 ? "ipv4" : "ipv6");
  }
}

/**
 * What a client over the per-address bound reads before the server closes the connection, in its
 * own protocol so it can tell the cause: HTTP/1.1 a 429 with a short text, HTTP/2 the server's
 * SETTINGS and a GOAWAY with ENHANCE_YOUR_CALM and the same text as debug data (RFC 9113 6.8).
 */
export function refusalBytes(http2: boolean, max: number): Buffer {
  const text = `too many connections from this address (at most ${max}); close some before opening more`;
  if (!http2) {
    return Buffer.from(`HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Type: text/plain\r\nRetry-After: 1\r\nContent-Length: ${text.length + 1}\r\n\r\n${text}\n`, "latin1");
  }
  const settings = frameHeader(0, 0x4);
  const debug = Buffer.from(text, "latin1");
  const goaway = Buffer.concat([frameHeader(8 + debug.length, 0x7), Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x0b]), debug]);
  return Buffer.concat([settings, goaway]);
}

/** An HTTP/2 frame header on stream 0 without flags. */
function frameHeader(length: number, type: number): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(length, 0, 3);
  h[3] = type;
  return h;
}
