import { looksLikeJwt } from "@caas/shared/identity/principal-resolver";
import type { PrincipalResolver } from "@caas/shared/interceptors/principal";

const BEARER = /^Bearer +(\S+)$/i;

/**
 * The gateway's principal resolver: access tokens are verified here too (a bad or expired token
 * is refused at the edge), while credentials only their owner can check (API keys, the
 * platform-admin credential) pass through unjudged and are forwarded unchanged to the auth
 * service, which verifies them against its store of record.
 */
export function createEdgePrincipalResolver(inner: PrincipalResolver): PrincipalResolver {
  return {
    resolve(headers) {
      const m = BEARER.exec(headers.get("authorization")?.trim() ?? "");
      if (m && !looksLikeJwt(m[1]!)) return Promise.resolve({ kind: "anonymous" });
      return inner.resolve(headers);
    },
  };
}
