import { AuthInternalService } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { createPeerClient, type PeerDirectory } from "@caas/shared/clients";
import { createPeerServiceTokenSource } from "@caas/shared/identity/service-tokens";
import { looksLikeJwt, type CredentialHandler } from "@caas/shared/identity/principal-resolver";
import type { Clock } from "@caas/shared/clock";
import type { Principal } from "@caas/shared/context";

/** The prefix of tenant API key secrets (auth's API_KEY_PREFIX). */
const API_KEY_PREFIX = "caas_k_";

/**
 * The credentials compliance accepts besides access tokens, each checked by the auth service on
 * every call with compliance's service token: tenant API keys (`Bearer caas_k_…`,
 * AuthInternalService.VerifyApiKey), so a revoked key or a suspended tenant is refused at once,
 * and any other non-JWT credential as the platform-admin credential (VerifyAdminCredential).
 * Auth's UNAUTHENTICATED / PERMISSION_DENIED pass through.
 */
export function createCredentialsOverMesh(opts: { peers: PeerDirectory; serviceSecret: string; clock: Clock }): CredentialHandler[] {
  const auth = createPeerClient(AuthInternalService, "auth", opts.peers, { defaultTimeoutMs: 5_000 });
  const tokens = createPeerServiceTokenSource({ service: "compliance", root: opts.serviceSecret, peers: opts.peers, clock: opts.clock });
  const headers = async () => ({ authorization: `Bearer ${await tokens.token("auth")}` });
  return [
    {
      accepts: (credential) => credential.startsWith(API_KEY_PREFIX),
      async resolve(credential): Promise<Principal> {
        const key = (await auth.verifyApiKey({ secret: credential }, { headers: await headers() })).apiKey;
        if (!key) throw new Error("VerifyApiKey answered without a key");
        return { kind: "api-key", tenantId: key.tenantId, apiKeyId: key.id };
      },
    },
    {
      accepts: (credential) => !credential.startsWith(API_KEY_PREFIX) && !looksLikeJwt(credential),
      async resolve(credential): Promise<Principal> {
        await auth.verifyAdminCredential({ secret: credential }, { headers: await headers() });
        return { kind: "platform-admin" };
      },
    },
  ];
}
