import { AuthInternalService } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { AuthService } from "@caas/gen/caas/auth/v1/auth_service_pb.js";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import {
  ACCESS_TOKEN_ALGORITHMS,
  ACCESS_TOKEN_AUDIENCE,
  ACCESS_TOKEN_ISSUER,
  createJwtVerifier,
  createPrincipalResolver,
  JWKS_PATH,
  notBuiltYet,
  type ServiceContext,
  type ServiceDefinition,
} from "@caas/shared";
import { establishAdminCredential } from "./admin-credential.js";
import { createAuthServiceImpl, STAGE_B } from "./auth-public-service.js";
import { openAuthStores } from "./auth-stores.js";
import { createAdminCredentialHandler, createApiKeyCredentialHandler } from "./credentials.js";
import { Pager } from "./domain/paging.js";
import { deriveKeyring, loadRootKey } from "./keys/keyring.js";
import { SigningKeyManager } from "./keys/signing-keys.js";
import { AccessTokenIssuer } from "./keys/token-issuer.js";
import { TenantAdminServiceImpl } from "./tenant-admin-service.js";
import { UserAdminServiceImpl } from "./user-admin-service.js";

export { ADMIN_CREDENTIAL_FILE } from "./admin-credential.js";
export { API_KEY_PREFIX, ADMIN_CREDENTIAL_PREFIX } from "./domain/secrets.js";

/** Settings of the auth service beyond Config (the composition root reads them from the environment). */
export interface AuthServiceOptions {
  /** CAAS_ADMIN_TOKEN: the platform-admin credential, instead of a generated one. */
  adminToken?: string;
}

/**
 * The auth service (stage A of issue #4): tenants and API keys for the platform admin, users and
 * access tokens for tenant backends, the token signing keys and their JWKS (`GetJwks` and
 * `GET /.well-known/jwks.json`). Its principal resolver is the shared one, verifying access
 * tokens against its own keys in process and also accepting tenant API keys and the
 * platform-admin credential, both checked against the store of record on every call. Sessions,
 * refresh tokens, passwords, MFA, service tokens and revocation events answer UNIMPLEMENTED
 * naming stage B.
 */
export async function createAuthService(ctx: ServiceContext, options: AuthServiceOptions = { adminToken: envAdminToken() }): Promise<ServiceDefinition> {
  const { config, logger, clock } = ctx;
  const stores = await openAuthStores(config, logger);
  try {
    const keyring = deriveKeyring(await loadRootKey({ mode: config.mode, dataDir: config.dataDir, state: stores.state, clock, logger }));
    const adminHash = await establishAdminCredential({
      envToken: options.adminToken,
      dataDir: config.dataDir,
      state: stores.state,
      pepper: keyring.adminPepper,
      clock,
      logger,
    });
    const keys = new SigningKeyManager({ store: stores.signingKeys, kek: keyring.signingKeyKek, clock, logger });
    await keys.start();
    const tokens = new AccessTokenIssuer({ keys, clock });
    const pager = new Pager(keyring.pageTokenSecret);
    const tenantAdmin = new TenantAdminServiceImpl({ tenants: stores.tenants, apiKeys: stores.apiKeys, pager, apiKeyPepper: keyring.apiKeyPepper, clock, logger });
    const userAdmin = new UserAdminServiceImpl({ users: stores.users, tokens, pager, clock, logger });
    const principalResolver = createPrincipalResolver({
      verifier: createJwtVerifier({
        jwksProvider: () => keys.jwks(),
        issuer: ACCESS_TOKEN_ISSUER,
        audience: ACCESS_TOKEN_AUDIENCE,
        algorithms: ACCESS_TOKEN_ALGORITHMS,
        clock,
      }),
      credentials: [
        createApiKeyCredentialHandler({ apiKeys: stores.apiKeys, tenants: stores.tenants, pepper: keyring.apiKeyPepper, clock, logger }),
        createAdminCredentialHandler({ hash: adminHash, pepper: keyring.adminPepper }),
      ],
    });
    return {
      name: "auth",
      services: [TenantAdminService, UserAdminService, AuthService, AuthInternalService],
      register(router) {
        router.service(TenantAdminService, tenantAdmin);
        router.service(UserAdminService, userAdmin);
        router.service(AuthService, createAuthServiceImpl({ keys }));
        router.service(AuthInternalService, notBuiltYet(AuthInternalService, STAGE_B));
      },
      httpRoutes: {
        [JWKS_PATH]: async (_req, res) => {
          const body = JSON.stringify(await keys.jwks());
          res.writeHead(200, { "content-type": "application/jwk-set+json", "cache-control": "public, max-age=60" });
          res.end(body);
        },
      },
      principalResolver,
      close: () => stores.close(),
    };
  } catch (err) {
    await stores.close();
    throw err;
  }
}

/** CAAS_ADMIN_TOKEN (validated as a known name by loadConfig), if set. */
function envAdminToken(): string | undefined {
  const v = process.env.CAAS_ADMIN_TOKEN?.trim();
  return v ? v : undefined;
}
