import type { PeerDirectory } from "../clients.js";
import type { Clock } from "../clock.js";
import { UnavailableError } from "../errors.js";
import type { PrincipalResolver } from "../interceptors/principal.js";
import {
  ACCESS_TOKEN_ALGORITHMS,
  ACCESS_TOKEN_AUDIENCE,
  ACCESS_TOKEN_ISSUER,
  createJwtVerifier,
  JWKS_PATH,
} from "./jwt-verifier.js";
import { createPrincipalResolver } from "./principal-resolver.js";

/** Where the auth service is and which clock checks token times. */
export interface MeshPrincipalResolverOptions {
  /** Where the auth service listens; read at the first token, since peers are wired after binding. */
  peers: PeerDirectory;
  clock: Clock;
}

/**
 * The resolver a service host uses unless its definition brings its own (the auth service
 * does): access tokens verified against the auth service's `GET /.well-known/jwks.json`. The
 * embedded platform shares one across its services, so they share one key cache.
 */
export function createMeshPrincipalResolver(opts: MeshPrincipalResolverOptions): PrincipalResolver {
  let next = 0;
  const verifier = createJwtVerifier({
    jwksUrl: () => {
      const urls = opts.peers.get("auth");
      if (urls.length === 0) throw new UnavailableError("no address configured for the auth service (CAAS_AUTH_URL)");
      return `${urls[next++ % urls.length]}${JWKS_PATH}`;
    },
    issuer: ACCESS_TOKEN_ISSUER,
    audience: ACCESS_TOKEN_AUDIENCE,
    algorithms: ACCESS_TOKEN_ALGORITHMS,
    clock: opts.clock,
  });
  return createPrincipalResolver({ verifier });
}
