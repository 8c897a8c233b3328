import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { CaasError } from "./errors.js";

/** Where the SDK gets the user's access token, and how it gets a fresh one. */
export interface TokenOptions {
  /** The current access token, or a function returning it. */
  accessToken: string | (() => string | Promise<string>);
  /**
   * Returns a fresh access token (e.g. AuthService.RefreshToken with the stored refresh token,
   * or a call to the app's backend). Called once at a time: when a call is refused as
   * UNAUTHENTICATED (the call is then retried once), shortly before the realtime connection's
   * token expires, and when the server closes it for an expired token. Without it, an expired
   * token ends the realtime connection.
   */
  refresh?: () => Promise<string>;
}

/** Holds the current token and refreshes it, one refresh at a time. */
export class TokenKeeper {
  private current: string | undefined;
  private refreshing: Promise<string> | undefined;

  constructor(private readonly opts: TokenOptions) {}

  /** The token to send now. */
  async get(): Promise<string> {
    if (this.current !== undefined) return this.current;
    const t = this.opts.accessToken;
    return typeof t === "string" ? t : t();
  }

  /** True when a refresh callback was given. */
  get canRefresh(): boolean {
    return this.opts.refresh !== undefined;
  }

  /** Asks the refresh callback for a new token (concurrent callers share one refresh). */
  refresh(): Promise<string> {
    const refresh = this.opts.refresh;
    if (!refresh) return Promise.reject(new CaasError("the access token was refused and no refresh callback was given", Code.Unauthenticated));
    this.refreshing ??= refresh().then(
      (t) => {
        this.current = t;
        this.refreshing = undefined;
        return t;
      },
      (err: unknown) => {
        this.refreshing = undefined;
        throw err;
      },
    );
    return this.refreshing;
  }
}

/**
 * Adds `Authorization: Bearer <token>`; a unary call refused as UNAUTHENTICATED is retried once
 * with a refreshed token. Every failure leaves as a CaasError.
 */
export function createAuthInterceptor(tokens: TokenKeeper | undefined): Interceptor {
  return (next) => async (req) => {
    const attempt = async () => {
      if (tokens) req.header.set("authorization", `Bearer ${await tokens.get()}`);
      return next(req);
    };
    try {
      return await attempt();
    } catch (err) {
      const refusedToken = err instanceof ConnectError && err.code === Code.Unauthenticated;
      if (tokens?.canRefresh && refusedToken && !req.stream) {
        try {
          await tokens.refresh();
          return await attempt();
        } catch (again) {
          throw CaasError.from(again);
        }
      }
      throw CaasError.from(err);
    }
  };
}

/** The expiry (ms since epoch) a JWT states, read without verifying it; undefined if unreadable. */
export function jwtExpiry(token: string): number | undefined {
  const part = token.split(".")[1];
  if (!part) return undefined;
  try {
    const json = atob(
      part
        .replace(/-/g, "+")
        .replace(/_/g, "/")
        .padEnd(Math.ceil(part.length / 4) * 4, "="),
    );
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
