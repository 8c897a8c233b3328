import type { Interceptor } from "@connectrpc/connect";
import { principalKey, type Principal } from "../context.js";

/**
 * Turns request credentials into a Principal. The Identity issue provides the JWT/JWKS-backed
 * resolver; until then every caller is anonymous. A resolver rejects a bad credential by throwing
 * UnauthenticatedError; it never trusts a header as identity by itself.
 */
export interface PrincipalResolver {
  resolve(headers: Headers): Promise<Principal>;
}

/** Resolves the caller once per RPC and stores it under `principalKey`. */
export function createPrincipalInterceptor(opts: { resolver: PrincipalResolver }): Interceptor {
  return (next) => async (req) => {
    req.contextValues.set(principalKey, await opts.resolver.resolve(req.header));
    return next(req);
  };
}

/** The resolver used until token verification exists: no credential grants anything. */
export const anonymousResolver: PrincipalResolver = {
  resolve: async () => ({ kind: "anonymous" }),
};
