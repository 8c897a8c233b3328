import type { Interceptor } from "@connectrpc/connect";
import { principalKey } from "../context.js";
import { PermissionDeniedError, UnauthenticatedError } from "../errors.js";

/** RPCs of an internal service that authenticate their callers themselves (with a bootstrap secret). */
export const INTERNAL_RPCS_WITHOUT_SERVICE_TOKEN: ReadonlySet<string> = new Set(["caas.auth.v1.AuthInternalService/IssueServiceToken"]);

/**
 * Guards `<Domain>InternalService` RPCs: only a service token addressed to this service (a
 * `service` principal, see createPrincipalResolver) may call them. No credential is
 * UNAUTHENTICATED; any other credential (a user token, an API key, the platform admin) is
 * PERMISSION_DENIED: it is valid, just not for this. Runs after the principal interceptor.
 */
export function createInternalServiceInterceptor(opts: { exempt?: ReadonlySet<string> } = {}): Interceptor {
  const exempt = opts.exempt ?? INTERNAL_RPCS_WITHOUT_SERVICE_TOKEN;
  return (next) => async (req) => {
    if (req.service.typeName.endsWith("InternalService") && !exempt.has(`${req.service.typeName}/${req.method.name}`)) {
      const p = req.contextValues.get(principalKey);
      if (p.kind === "anonymous") throw new UnauthenticatedError("a service token is required (Authorization: Bearer <service token>)");
      if (p.kind !== "service") throw new PermissionDeniedError("internal RPCs take a service token only");
    }
    return next(req);
  };
}
