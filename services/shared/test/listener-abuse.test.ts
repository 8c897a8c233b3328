import http2 from "node:http2";
import { afterEach, describe, expect, it } from "vitest";
import type { RunningService } from "../src/server/service-host.js";
import { healthCheck, openReflection, probeHost, rawConnection } from "./support/probe-host.js";

let host: RunningService | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
});

function connect(url: string): http2.ClientHttp2Session {
  const s = http2.connect(url, { maxSendHeaderBlockLength: 1 << 24 } as http2.SecureClientSessionOptions);
  s.on("error", () => {});
  return s;
}

describe("HTTP/2 streams per connection", () => {
  it("refuses a stream over CAAS_HTTP2_MAX_CONCURRENT_STREAMS with REFUSED_STREAM, and admits one once another ends", async () => {
    host = await probeHost({ CAAS_HTTP2_MAX_CONCURRENT_STREAMS: "4" });
    const session = connect(host.url);
    const settings = new Promise<http2.Settings>((r) => session.once("remoteSettings", r));
    // Opened before the server's SETTINGS arrive, so the client does not hold the fifth back itself.
    const open = [0, 1, 2, 3].map(() => openReflection(session));
    const fifth = openReflection(session);
    expect(await fifth.closed).toBe(http2.constants.NGHTTP2_REFUSED_STREAM);
    expect((await settings).maxConcurrentStreams).toBe(4);
    // One call finishing (its request half-closed: the reflection stream ends) makes room again.
    // (Resetting a stream with close() here would hang the Node client: after a refused stream its
    // session loops on the next RST_STREAM it sends, client-side only.)
    open[0]!.stream.end();
    await open[0]!.closed;
    expect(await healthCheck(session).done).toEqual({ status: "0", rstCode: http2.constants.NGHTTP2_NO_ERROR });
    session.destroy();
  });
});

describe("oversized request headers", () => {
  it.each([40, 100])("HTTP/2: a %i KiB header block resets only its stream; a concurrent and a later stream on the connection succeed", async (kib) => {
    host = await probeHost({ CAAS_HTTP_MAX_HEADER_BYTES: String(16 * 1024) });
    const session = connect(host.url);
    let goaway = false;
    session.on("goaway", () => (goaway = true));
    await new Promise((r) => session.once("remoteSettings", r));
    const headers: Record<string, string> = {};
    for (let i = 0; i < kib / 4; i++) headers[`x-big-${i}`] = "a".repeat(4 * 1024);
    const [big, other] = await Promise.all([healthCheck(session, headers).done, healthCheck(session).done]);
    expect(big).toMatchObject({ rstCode: http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, status: undefined });
    expect(other).toEqual({ status: "0", rstCode: http2.constants.NGHTTP2_NO_ERROR });
    expect(await healthCheck(session).done).toEqual({ status: "0", rstCode: http2.constants.NGHTTP2_NO_ERROR });
    expect(goaway).toBe(false);
    session.destroy();
  });

  it("HTTP/1.1: headers over the bound get 431", async () => {
    host = await probeHost({ CAAS_HTTP_MAX_HEADER_BYTES: String(16 * 1024) });
    const c = await rawConnection(host.url);
    c.socket.write(`GET /health HTTP/1.1\r\nHost: probe\r\nX-Big: ${"a".repeat(20 * 1024)}\r\n\r\n`);
    await c.closed;
    expect(c.read()).toMatch(/^HTTP\/1\.1 431 /);
    expect((await fetch(`${host.url}/health`, { headers: { "x-fine": "a".repeat(8 * 1024) } })).status).toBe(200);
  });
});

describe("connections per client address", () => {
  const env = { CAAS_MAX_CONNECTIONS_PER_ADDRESS: "3", CAAS_CONNECTION_LIMIT_EXEMPT: "none" };

  it("refuses the connection over the bound on HTTP/1.1 with 429 and on HTTP/2 with GOAWAY ENHANCE_YOUR_CALM, then admits one once another closed", async () => {
    host = await probeHost(env);
    const url = host.url;
    const open = await Promise.all([0, 1, 2].map(() => rawConnection(url)));
    for (const c of open) c.socket.write("GET /health HTTP/1.1\r\nHost: probe\r\n\r\n");
    await new Promise((r) => setTimeout(r, 100));
    for (const c of open) expect(c.read()).toMatch(/^HTTP\/1\.1 200 /);

    const h1 = await rawConnection(url);
    h1.socket.write("GET /health HTTP/1.1\r\nHost: probe\r\n\r\n");
    await h1.closed;
    expect(h1.read()).toMatch(/^HTTP\/1\.1 429 Too Many Requests\r\n[\s\S]*too many connections from this address \(at most 3\)/);

    const h2 = connect(url);
    const [code, debug] = await new Promise<[number, Buffer]>((r) => h2.once("goaway", (c: number, _last: number, data: Buffer) => r([c, data])));
    expect(code).toBe(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    expect(debug.toString()).toContain("too many connections from this address");
    h2.destroy();

    open[0]!.socket.destroy();
    await open[0]!.closed;
    await new Promise((r) => setTimeout(r, 50));
    const again = connect(url);
    expect(await healthCheck(again).done).toEqual({ status: "0", rstCode: http2.constants.NGHTTP2_NO_ERROR });
    again.destroy();
    for (const c of open) c.socket.destroy();
  });

  it("does not count exempt addresses (loopback by default)", async () => {
    host = await probeHost({ CAAS_MAX_CONNECTIONS_PER_ADDRESS: "3" });
    const sessions = [0, 1, 2, 3, 4].map(() => connect(host!.url));
    const outcomes = await Promise.all(sessions.map((s) => healthCheck(s).done));
    for (const o of outcomes) expect(o).toEqual({ status: "0", rstCode: http2.constants.NGHTTP2_NO_ERROR });
    for (const s of sessions) s.destroy();
  });
});
