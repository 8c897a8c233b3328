import type { PeerDirectory } from "../clients.js";
import type { Clock } from "../clock.js";
import { UnavailableError } from "../errors.js";
import type { PrincipalResolver } from "../interceptors/principal.js";
import { type JwtVerifier, ACCESS_TOKEN_ALGORITHMS, ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_ISSUER, createJwtVerifier, JWKS_PATH } from "./jwt-verifier.js";
import { createPrincipalResolver } from "./principal-resolver.js";
import type { RevocationChecker } from "./revocations.js";

/** Where the auth service is and which clock checks token times. */
export interface MeshPrincipalResolverOptions {
  /** Where the auth service listens; read at the first token, since peers are wired after binding. */
  peers: PeerDirectory;
  clock: Clock;
  /** The process's deny-set (fed from auth events); none means no revocation check. */
  revocations?: RevocationChecker;
  /** The service the resolver guards: service tokens for it are accepted (see createPrincipalResolver). */
  serviceAudience?: string;
  /** A verifier to share (one key cache per process); made from `peers` when omitted. */
  verifier?: JwtVerifier;
}

/**
 * The resolver a service host uses unless its definition brings its own (the auth service
 * does): access tokens verified against the auth service's `GET /.well-known/jwks.json`, service
 * tokens addressed to `serviceAudience`, and the deny-set. The embedded platform gives its
 * services one resolver each over one shared verifier, so they share one key cache.
 */
export function createMeshPrincipalResolver(opts: MeshPrincipalResolverOptions): PrincipalResolver {
  const verifier = opts.verifier ?? createMeshJwtVerifier(opts);
  return createPrincipalResolver({ verifier, revocations: opts.revocations, serviceAudience: opts.serviceAudience });
}

/** The shared verifier on the auth service's `GET /.well-known/jwks.json`, round-robin over its instances. */
export function createMeshJwtVerifier(opts: { peers: PeerDirectory; clock: Clock }): JwtVerifier {
  let next = 0;
  return createJwtVerifier({
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
}
