import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningService } from "../src/server/service-host.js";
import { H2_PREFACE, h2Frame, healthCheck, openReflection, probeHost, rawConnection, trickle } from "./support/probe-host.js";

const HEADERS_MS = 500;
const REQUEST_MS = 1_500;

let host: RunningService;
beforeAll(async () => {
  host = await probeHost({ CAAS_HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_MS), CAAS_HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_MS) });
});
afterAll(() => host.close());

/** A plain GET /health on a new connection answers: the server is still serving others. */
async function healthy(): Promise<void> {
  const res = await fetch(`${host.url}/health`);
  expect(res.status).toBe(200);
}

describe("slow clients on HTTP/1.1", () => {
  it("cuts off a client trickling its request headers after the header timeout", async () => {
    const c = await rawConnection(host.url);
    void trickle(c.socket, "GET /health HTTP/1.1\r\nHost: probe\r\nX-Slow: " + "a".repeat(200), 50);
    const closedAfter = await c.closed;
    // Bounded by the header timeout plus Node's check interval, far short of the 10 s the trickle would take.
    expect(closedAfter).toBeGreaterThanOrEqual(HEADERS_MS - 50);
    expect(closedAfter).toBeLessThan(REQUEST_MS + 1_000);
    expect(c.read()).toMatch(/^HTTP\/1\.1 408 /);
    await healthy();
  });

  it("cuts off a client trickling its request body after the request timeout", async () => {
    const c = await rawConnection(host.url);
    c.socket.write("POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: probe\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n");
    void trickle(c.socket, "{" + " ".repeat(398) + "}", 50);
    const closedAfter = await c.closed;
    expect(closedAfter).toBeGreaterThanOrEqual(REQUEST_MS - 50);
    expect(closedAfter).toBeLessThan(REQUEST_MS + 2_000);
    await healthy();
  });

  it("closes a connection that never sends a byte after the header timeout", async () => {
    const c = await rawConnection(host.url);
    const closedAfter = await c.closed;
    expect(closedAfter).toBeGreaterThanOrEqual(HEADERS_MS - 50);
    expect(closedAfter).toBeLessThan(HEADERS_MS + 1_000);
  });
});

describe("slow clients on HTTP/2", () => {
  it("closes a connection whose first request headers do not arrive within the header timeout", async () => {
    const c = await rawConnection(host.url);
    c.socket.write(H2_PREFACE);
    const closedAfter = await c.closed;
    expect(closedAfter).toBeGreaterThanOrEqual(HEADERS_MS - 50);
    expect(closedAfter).toBeLessThan(HEADERS_MS + 1_000);
  });

  it("closes a connection trickling a header block after the header timeout, and others are served", async () => {
    const c = await rawConnection(host.url);
    // HEADERS without END_HEADERS (:method POST, :scheme http, :path /), then one CONTINUATION whose
    // payload (a literal header field of 100 bytes) arrives a byte every 50 ms: 5 s if let run.
    c.socket.write(Buffer.concat([H2_PREFACE, h2Frame(0x1, 0x0, 1, Buffer.from([0x83, 0x86, 0x84]))]));
    const field = Buffer.concat([Buffer.from([0x00, 6]), Buffer.from("x-slow"), Buffer.from([91]), Buffer.alloc(91, 0x61)]);
    const continuation = h2Frame(0x9, 0x4, 1, field);
    c.socket.write(continuation.subarray(0, 9));
    void trickle(c.socket, continuation.subarray(9), 50);
    const closedAfter = await c.closed;
    expect(closedAfter).toBeGreaterThanOrEqual(HEADERS_MS - 50);
    expect(closedAfter).toBeLessThan(HEADERS_MS + 1_000);
    const other = http2.connect(host.url);
    other.on("error", () => {});
    expect(await healthCheck(other).done).toEqual({ status: "0", rstCode: http2.constants.NGHTTP2_NO_ERROR });
    other.destroy();
  });

  it("resets only the stream whose unary request body trickles past the request timeout", async () => {
    const session = http2.connect(host.url);
    session.on("error", () => {});
    const started = Date.now();
    const slow = healthCheck(session, {}, false);
    const timer = setInterval(() => !slow.stream.destroyed && slow.stream.write(Buffer.alloc(0)), 100);
    const outcome = await slow.done;
    clearInterval(timer);
    expect(outcome.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
    expect(Date.now() - started).toBeGreaterThanOrEqual(REQUEST_MS - 50);
    // The connection itself is fine: a later call on it succeeds.
    expect(await healthCheck(session).done).toEqual({ status: "0", rstCode: http2.constants.NGHTTP2_NO_ERROR });
    session.destroy();
  });

  it("leaves bidi-streaming calls open past the request timeout, and an idle connection after its first request", async () => {
    const session = http2.connect(host.url);
    session.on("error", () => {});
    expect(await healthCheck(session).done).toMatchObject({ status: "0" });
    const bidi = openReflection(session);
    let closed = false;
    void bidi.closed.then(() => (closed = true));
    await new Promise((r) => setTimeout(r, REQUEST_MS + 700));
    expect(closed).toBe(false);
    expect(await healthCheck(session).done).toEqual({ status: "0", rstCode: http2.constants.NGHTTP2_NO_ERROR });
    bidi.stream.close();
    session.destroy();
  });
});
