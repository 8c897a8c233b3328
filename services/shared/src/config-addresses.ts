import { isIP } from "node:net";
import { createRequire } from "node:module";

/**
 * Checks of the server addresses a deployment names. Each answers `undefined` when the value is
 * usable, else what is wrong (without repeating the value: a URL may carry a password). Where the
 * driver has a parser, the driver's own parser decides, so the check accepts exactly what the
 * connection would.
 */

/**
 * A MongoDB connection string, parsed by the driver itself (`new MongoClient` parses and validates
 * every option but connects only on `connect()`): seed lists (`mongodb://h1:27017,h2:27017/?replicaSet=rs0`),
 * `mongodb+srv://`, credentials and options are accepted exactly when the driver accepts them.
 */
export function mongoUrlProblem(raw: string): string | undefined {
  try {
    // The client is never connected: nothing to close, no socket or timer is opened.
    // Required here, not imported: only a configuration that names MongoDB loads the driver.
    const { MongoClient } = createRequire(import.meta.url)("mongodb") as typeof import("mongodb");
    new MongoClient(raw);
    return undefined;
  } catch (e) {
    return `is not a MongoDB connection string the driver accepts (${maskSecrets((e as Error).message)})`;
  }
}

/**
 * A Kafka bootstrap list as kafkajs takes it: comma-separated `host:port` entries (host a DNS
 * name, an IPv4 address or a bracketed IPv6 address). kafkajs has no parser of its own (it splits
 * each entry at connect time), so this is the check.
 */
export function kafkaBrokersProblem(list: string[]): string | undefined {
  const bad = list.filter((entry) => !isHostPort(entry));
  if (bad.length === 0) return undefined;
  return `has ${bad.length === 1 ? "an entry" : "entries"} ${bad.map((b) => JSON.stringify(maskSecrets(b))).join(", ")} that ${bad.length === 1 ? "is" : "are"} not host:port (e.g. kafka-1:9092,kafka-2:9092)`;
}

/**
 * An S3 endpoint as the media service's S3 client (minio-js) takes it: `http(s)://host[:port]`.
 * minio-js addresses a server by host, port and TLS only, so a path or query would be silently
 * dropped and requests would reach the wrong place: it is refused here, before anything starts.
 */
export function s3EndpointProblem(raw: string): string | undefined {
  if (!URL.canParse(raw)) return "is not a URL";
  const u = new URL(raw);
  if (u.protocol !== "http:" && u.protocol !== "https:") return `has the scheme ${u.protocol}; the S3 client takes http:// or https://`;
  if (u.username !== "" || u.password !== "") return "must not carry credentials (use CAAS_S3_ACCESS_KEY and CAAS_S3_SECRET_KEY)";
  if ((u.pathname !== "/" && u.pathname !== "") || u.search !== "" || u.hash !== "") {
    return "has a path or query; the S3 client (minio-js) addresses a server by scheme, host and port only: give http(s)://host[:port] (a gateway under a path prefix is not supported)";
  }
  return undefined;
}

/** An absolute URL whose scheme is one of `schemes` (e.g. ["http:", "https:"]). */
export function urlProblem(raw: string, schemes: string[]): string | undefined {
  if (!URL.canParse(raw)) return "is not a URL";
  const protocol = new URL(raw).protocol;
  if (!schemes.includes(protocol)) return `has the scheme ${protocol}; expected ${schemes.map((s) => `${s}//`).join(" or ")}`;
  return undefined;
}

function isHostPort(entry: string): boolean {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s/]+):(\d{1,5})$/.exec(entry);
  if (!m) return false;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return false;
  const host = m[1]!;
  if (host.startsWith("[")) return isIP(host.slice(1, -1)) === 6;
  return isIP(host) === 4 || /^(?=.{1,253}$)[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,62})(\.[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,62}))*\.?$/.test(host);
}

/**
 * The value with the password of every `scheme://user:password@` replaced by `***`: what may be
 * printed or logged of a server address. The user name stays (it helps an operator and is not a
 * secret); a userinfo without a colon is hidden whole. The last `@` before any query ends the
 * credentials, so a password holding an unencoded `@` or `/` is still hidden whole.
 */
export function maskSecrets(value: string): string {
  return value.replace(/([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)([^?#]*)@/g, (_m, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(":");
    // ioredis reads a userinfo without a colon as the password: hide it whole.
    return `${scheme}${colon === -1 ? "***" : `${userinfo.slice(0, colon)}:***`}@`;
  });
}
