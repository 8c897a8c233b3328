import net from "node:net";
import type { ConnectionLimits } from "./config-types.js";

/** Loopback: the embedded gateway's /ws relay and a reverse proxy on the same host arrive from here. */
export const DEFAULT_EXEMPT_ADDRESSES = ["127.0.0.1/8", "::1"];

type Int = (name: string, def: number, min: number, max: number) => number;

/**
 * Reads the connection bounds (docs/operations/connection-limits.md). `get` and `int` are
 * loadConfig's readers, so unknown variables and bad numbers are reported with the rest.
 */
export function parseConnectionLimits(get: (name: string) => string | undefined, int: Int, problems: string[]): ConnectionLimits {
  const headersTimeoutMs = int("CAAS_HTTP_HEADERS_TIMEOUT_MS", 10_000, 100, 600_000);
  const requestTimeoutMs = int("CAAS_HTTP_REQUEST_TIMEOUT_MS", 300_000, 100, 3_600_000);
  if (requestTimeoutMs < headersTimeoutMs) problems.push(`CAAS_HTTP_REQUEST_TIMEOUT_MS=${requestTimeoutMs} must not be below CAAS_HTTP_HEADERS_TIMEOUT_MS=${headersTimeoutMs}`);
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    // Above about 128 KiB nghttp2's CONTINUATION-flood guard ends the whole HTTP/2 connection first.
    maxHeaderBytes: int("CAAS_HTTP_MAX_HEADER_BYTES", 32 * 1024, 1024, 128 * 1024),
    maxConcurrentStreams: int("CAAS_HTTP2_MAX_CONCURRENT_STREAMS", 1000, 1, 1_000_000),
    // Node's default (511) overflows when thousands of clients reconnect at once while the event
    // loop is busy: the kernel drops their SYNs and they retry after 1, 3, 7 s (ADR 0190).
    listenBacklog: int("CAAS_LISTEN_BACKLOG", 4096, 1, 65_535),
    maxConnectionsPerAddress: int("CAAS_MAX_CONNECTIONS_PER_ADDRESS", 1024, 0, 1_000_000),
    exemptAddresses: parseExemptAddresses(get("CAAS_CONNECTION_LIMIT_EXEMPT"), problems),
    wsMaxBufferedBytes: int("CAAS_WS_MAX_BUFFERED_BYTES", 4 * 1024 * 1024, 16 * 1024, 256 * 1024 * 1024),
    // Half the default stream limit of one owner connection: refused at the gateway, not held unsent in front of the owner.
    gatewayMaxOutstanding: int("CAAS_GATEWAY_MAX_OUTSTANDING", 512, 1, 1_000_000),
    // The wait a forwarded call may expect behind those outstanding to its owner (Little's law on the measured rate).
    gatewayTargetWaitMs: int("CAAS_GATEWAY_TARGET_WAIT_MS", 2_000, 10, 600_000),
    // The same while the owner is or just was overloaded: a standing queue adds latency, not throughput.
    gatewayOverloadedWaitMs: int("CAAS_GATEWAY_OVERLOADED_WAIT_MS", 500, 10, 600_000),
  };
}

/** CAAS_CONNECTION_LIMIT_EXEMPT: comma-separated addresses or CIDR ranges; `none` exempts nobody; unset: loopback. */
function parseExemptAddresses(raw: string | undefined, problems: string[]): string[] {
  if (raw === undefined) return [...DEFAULT_EXEMPT_ADDRESSES];
  if (raw === "none") return [];
  const out: string[] = [];
  for (const item of raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (exemptionBlock(item)) out.push(item);
    else problems.push(`CAAS_CONNECTION_LIMIT_EXEMPT has an entry ${JSON.stringify(item)} that is not an IP address or CIDR range (e.g. 10.0.0.0/8)`);
  }
  return out;
}

/** A BlockList holding one address or CIDR range, or undefined when `entry` is neither. */
function exemptionBlock(entry: string, list = new net.BlockList()): net.BlockList | undefined {
  const [addr, bits, extra] = entry.split("/");
  const family = net.isIP(addr ?? "");
  if (family === 0 || extra !== undefined) return undefined;
  const type = family === 4 ? "ipv4" : "ipv6";
  if (bits === undefined) {
    list.addAddress(addr!, type);
    return list;
  }
  if (!/^\d+$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128)) return undefined;
  list.addSubnet(addr!, Number(bits), type);
  return list;
}

/** The exempt entries as one BlockList (IPv4-mapped IPv6 peers are matched as IPv4). */
export function exemptionList(entries: readonly string[]): net.BlockList {
  const list = new net.BlockList();
  for (const e of entries) exemptionBlock(e, list);
  return list;
}
