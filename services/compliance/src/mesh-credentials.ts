import { AuthInternalService } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { createPeerClient, createPeerServiceTokenSource, type Clock, type CredentialHandler, type PeerDirectory, type Principal } from "@caas/shared";

/** The prefix of tenant API key secrets (auth's API_KEY_PREFIX). */
const API_KEY_PREFIX = "caas_k_";

/**
 * Tenant API keys (`Bearer caas_k_…`) checked by the auth service on every call
 * (AuthInternalService.VerifyApiKey with compliance's service token), so a revoked key or a
 * suspended tenant is refused at once; auth's UNAUTHENTICATED / PERMISSION_DENIED pass through.
 */
export function createApiKeyOverMesh(opts: { peers: PeerDirectory; serviceSecret: string; clock: Clock }): CredentialHandler {
  const auth = createPeerClient(AuthInternalService, "auth", opts.peers, { defaultTimeoutMs: 5_000 });
  const tokens = createPeerServiceTokenSource({ service: "compliance", root: opts.serviceSecret, peers: opts.peers, clock: opts.clock });
  return {
    accepts: (credential) => credential.startsWith(API_KEY_PREFIX),
    async resolve(credential): Promise<Principal> {
      const res = await auth.verifyApiKey({ secret: credential }, { headers: { authorization: `Bearer ${await tokens.token("auth")}` } });
      const key = res.apiKey;
      if (!key) throw new Error("VerifyApiKey answered without a key");
      return { kind: "api-key", tenantId: key.tenantId, apiKeyId: key.id };
    },
  };
}
