/**
 * The browser Origin rule shared by the gateway (CORS and its /ws relay) and the socket service's
 * own /ws: one allowlist (config.corsOrigins, exact origins as browsers send them), so a page that
 * may not call the gateway cannot open the realtime socket either, whichever address it reaches.
 */
export interface OriginAllowlist {
  /** True when the origin is listed exactly. */
  lists: (origin: string) => boolean;
  /**
   * True when a request with this Origin header may go on: no Origin (a client that is not a
   * browser), a listed origin, or, given the request's Host, the host's own origin (a page served
   * by the same address, such as the gateway's demo at /demo). The gateway relays /ws with the
   * client's Host unchanged, so the socket service sees the same Host the browser used.
   */
  admits: (origin: string | undefined, host?: string) => boolean;
}

/** The allowlist for the given origins. */
export function createOriginAllowlist(origins: readonly string[]): OriginAllowlist {
  const allowed = new Set(origins);
  return {
    lists: (origin) => allowed.has(origin),
    admits: (origin, host) => origin === undefined || allowed.has(origin) || (host !== undefined && (origin === `http://${host}` || origin === `https://${host}`)),
  };
}
