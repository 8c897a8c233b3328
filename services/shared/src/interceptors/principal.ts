import type { Interceptor } from "@connectrpc/connect";
import { principalKey, type Principal } from "../context.js";

/**
 * Turns request credentials into a Principal. Services get the JWT/JWKS-backed resolver from
 * services/shared/src/auth (one verifier for the whole mesh); the auth service adds API keys and
 * the platform-admin credential. A request without credentials is anonymous; a resolver rejects a
 * bad credential by throwing UnauthenticatedError and never trusts a header as identity by itself.
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

/** A resolver that grants nothing to anyone (unit tests of services that need no caller). */
export const anonymousResolver: PrincipalResolver = {
  resolve: async () => ({ kind: "anonymous" }),
};
