import type http from "node:http";
import type http2 from "node:http2";
import { cors } from "@connectrpc/connect";
import { CORRELATION_HEADER } from "@caas/shared/interceptors/correlation";
import { createOriginAllowlist } from "@caas/shared/server/origin";

type HttpRequest = http.IncomingMessage | http2.Http2ServerRequest;
type HttpResponse = http.ServerResponse | http2.Http2ServerResponse;

/**
 * Request headers a browser page may send: Connect's and gRPC-web's own (connect-es `cors`), the
 * bearer token and the correlation id.
 */
export const CORS_ALLOWED_HEADERS: readonly string[] = [...new Set([...cors.allowedHeaders, "Authorization", "X-Correlation-Id"].map((h) => h.toLowerCase()))];

/**
 * Response headers a page may read: gRPC-web's status and error details (without them a
 * cross-origin gRPC-web client sees every answer as an unknown error) and the correlation id.
 */
export const CORS_EXPOSED_HEADERS: readonly string[] = [...new Set([...cors.exposedHeaders, CORRELATION_HEADER].map((h) => h.toLowerCase()))];

/** How long a browser may cache a preflight answer (seconds; Chromium caps it at 7200). */
const PREFLIGHT_MAX_AGE_S = 7200;

/** Decides about one request's Origin: the gateway's CORS answers and its /ws Origin check. */
export interface OriginPolicy {
  /**
   * True when a request with this Origin header may go on: no Origin (a client that is not a
   * browser, or a same-origin navigation), one on the allowlist, or, given the request's Host,
   * the gateway's own origin (a page it serves itself, such as the demo at /demo).
   */
  admits(origin: string | undefined, host?: string): boolean;
  /**
   * The listener's HTTP filter: answers preflights (allowed origins get the methods and headers
   * Connect and gRPC-web need; others a 403 without any Access-Control-* header, which the browser
   * treats as a refusal) and adds Access-Control-Allow-Origin and -Expose-Headers to the actual
   * responses of allowed origins. Returns true when it has answered.
   */
  filter: (req: HttpRequest, res: HttpResponse) => boolean;
}

/**
 * An Origin allowlist (config.corsOrigins, exact origins as browsers send them). A request of a
 * browser whose origin is not listed gets no Access-Control-Allow-Origin, so the browser does not
 * let the page read the answer; requests without Origin are untouched.
 */
export function createOriginPolicy(origins: readonly string[]): OriginPolicy {
  const allowlist = createOriginAllowlist(origins);
  return {
    admits: allowlist.admits,
    filter(req, res) {
      const origin = headerOf(req, "origin");
      if (origin === undefined) return false;
      // Answers differ by Origin: caches in between must key on it.
      res.setHeader("vary", "Origin");
      const preflight = req.method === "OPTIONS" && headerOf(req, "access-control-request-method") !== undefined;
      if (!allowlist.lists(origin)) {
        if (!preflight) return false;
        res.writeHead(403, { "content-type": "text/plain" });
        res.end("origin not allowed\n");
        return true;
      }
      res.setHeader("access-control-allow-origin", origin);
      if (!preflight) {
        res.setHeader("access-control-expose-headers", CORS_EXPOSED_HEADERS.join(", "));
        return false;
      }
      res.writeHead(204, {
        "access-control-allow-methods": cors.allowedMethods.join(", "),
        "access-control-allow-headers": CORS_ALLOWED_HEADERS.join(", "),
        "access-control-max-age": String(PREFLIGHT_MAX_AGE_S),
      });
      res.end();
      return true;
    },
  };
}

/** One request header's value (the first, if repeated), undefined when absent or empty. */
function headerOf(req: HttpRequest, name: string): string | undefined {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === "" ? undefined : s;
}
