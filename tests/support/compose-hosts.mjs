// Preloaded (node --import) into the CAAS processes of the compose-topology test: makes compose's
// network names work on one host without touching /etc/hosts or any other process.
//
// CAAS_TEST_COMPOSE_ADDRESSES is a JSON object {"<compose host>:<port>": "<ip>:<port>"}, e.g.
// {"chat-1:3004": "127.0.0.1:23104", "mongo-1:27017": "127.0.0.1:27018"}. Every TCP connection
// to a listed name and port goes to the listed address instead: compose gives each container its
// own address, here the instances share 127.0.0.1 and differ by port. Names resolve (dns.lookup)
// to the listed IP, for code that resolves before connecting. Everything else is untouched.
import dns from "node:dns";
import net from "node:net";

const table = JSON.parse(process.env.CAAS_TEST_COMPOSE_ADDRESSES ?? "{}");
/** "host:port" -> { host, port } */
const routes = new Map();
/** host -> ip, for name resolution */
const names = new Map();
for (const [from, to] of Object.entries(table)) {
  const [host, port] = splitHostPort(from);
  const [toHost, toPort] = splitHostPort(to);
  routes.set(`${host.toLowerCase()}:${port}`, { host: toHost, port: Number(toPort) });
  names.set(host.toLowerCase(), toHost);
}

function splitHostPort(s) {
  const i = s.lastIndexOf(":");
  if (i <= 0) throw new Error(`compose-hosts: "${s}" is not host:port`);
  return [s.slice(0, i), s.slice(i + 1)];
}

/** Rewrites a connect options object in place when it names a listed host and port. */
function reroute(opts) {
  if (!opts || typeof opts !== "object" || opts.path || typeof opts.host !== "string") return;
  const to = routes.get(`${opts.host.toLowerCase()}:${Number(opts.port)}`);
  if (!to) return;
  // TLS would still verify the compose name (servername), as it would in compose.
  if (opts.servername === undefined && !net.isIP(opts.host)) opts.servername = opts.host;
  opts.host = to.host;
  opts.port = to.port;
}

// Every client (http, http2, undici fetch, kafkajs, ioredis, mongodb, minio) ends in
// Socket.prototype.connect with either a normalized [options, callback] array, an options object,
// or (port, host, ...).
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  if (Array.isArray(args[0])) reroute(args[0][0]);
  else if (args[0] && typeof args[0] === "object") reroute(args[0]);
  else if ((typeof args[0] === "number" || /^\d+$/.test(String(args[0]))) && typeof args[1] === "string") {
    const opts = { port: Number(args[0]), host: args[1] };
    reroute(opts);
    args[0] = opts.port;
    args[1] = opts.host;
  }
  return connect.apply(this, args);
};

const lookup = dns.lookup;
dns.lookup = function (hostname, options, callback) {
  const ip = typeof hostname === "string" ? names.get(hostname.toLowerCase()) : undefined;
  if (ip === undefined) return lookup.call(this, hostname, options, callback);
  const cb = typeof options === "function" ? options : callback;
  const all = typeof options === "object" && options !== null && options.all;
  const family = net.isIP(ip);
  process.nextTick(() => (all ? cb(null, [{ address: ip, family }]) : cb(null, ip, family)));
  return {};
};
const lookupPromise = dns.promises.lookup;
dns.promises.lookup = async function (hostname, options) {
  const ip = typeof hostname === "string" ? names.get(hostname.toLowerCase()) : undefined;
  if (ip === undefined) return lookupPromise.call(this, hostname, options);
  const family = net.isIP(ip);
  return typeof options === "object" && options !== null && options.all ? [{ address: ip, family }] : { address: ip, family };
};
