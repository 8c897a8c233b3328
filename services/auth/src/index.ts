import { createAuthUserDataRpcs, removeAccount } from "./user-data.js";
import { createDeletionRequestOverMesh, createTenantDeletionRpc } from "./tenant-deletion.js";
import { ACCESS_TOKEN_ALGORITHMS, ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_ISSUER, createJwtVerifier, JWKS_PATH } from "@caas/shared/identity/jwt-verifier";
import { createPrincipalResolver } from "@caas/shared/identity/principal-resolver";
import { loadRevocations, RevocationSet, startRevocationFeed } from "@caas/shared/identity/revocations";
import type { ServiceContext } from "@caas/shared/service-runtime";
import type { ServiceDefinition } from "@caas/shared/server/service-host";
import { establishAdminCredential } from "./admin-credential.js";
import { AuthEventPublisher } from "./auth-events.js";
import { createAuthInternalServiceImpl, serviceSecretCredentialHandler } from "./auth-internal-service.js";
import { listRevocationsPage } from "./revocation-listing.js";
import { createAuthServiceImpl } from "./auth-public-service.js";
import { PasswordAccounts } from "./password-accounts.js";
import { TotpMfa } from "./totp-mfa.js";
import { openAuthStores } from "./auth-stores.js";
import { AUTH_SERVICES, registerAuthRoutes } from "./routes.js";
import { createAdminCredentialHandler, createApiKeyCheck, createApiKeyCredentialHandler } from "./credentials.js";
import { Pager } from "./domain/paging.js";
import { deriveKeyring, loadRootKey } from "./keys/keyring.js";
import { SigningKeyManager } from "./keys/signing-keys.js";
import { SessionManager } from "./sessions.js";
import { AccessTokenIssuer } from "./keys/token-issuer.js";
import { TenantAdminServiceImpl } from "./tenant-admin-service.js";
import { UserAdminServiceImpl } from "./user-admin-service.js";
import { AuthThrottle, openAuthRateLimiter, type AuthRateRules } from "./throttle.js";

/** Settings of the auth service beyond what it reads from Config. */
export interface AuthServiceOptions {
  /** The platform-admin credential instead of a generated one; default `config.adminToken` (CAAS_ADMIN_TOKEN). */
  adminToken?: string;
  /** Limits on minting sessions; DEFAULT_AUTH_RATE_RULES when omitted. */
  rateRules?: AuthRateRules;
}

/**
 * The auth service: tenants and API keys for the platform admin, users
 * and sessions (access + rotating refresh tokens) for tenant backends, sign-out and session
 * management for users, service tokens for services, the token signing keys and their JWKS
 * (`GetJwks` and `GET /.well-known/jwks.json`). Revocations are published on the auth events
 * topic and applied to the process deny-set. Its principal resolver is the shared one, verifying
 * tokens against its own keys in process and also accepting tenant API keys and the
 * platform-admin credential, both checked against the store of record on every call. Password
 * accounts sign up and in with an optional TOTP second factor (required in tenants whose settings
 * say so). Published revocations are kept for ListRevocations.
 */
export async function createAuthService(ctx: ServiceContext, options: AuthServiceOptions = { adminToken: ctx.config.adminToken }): Promise<ServiceDefinition> {
  const { config, logger, clock, bus } = ctx;
  const stores = await openAuthStores(config, logger);
  const rateLimiter = await openAuthRateLimiter(config, logger, clock);
  // The process's deny-set when the composition root keeps one; otherwise one of its own.
  const revocations = ctx.revocations ?? new RevocationSet(clock);
  let feed: { close(): Promise<void> } | undefined;
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
    const events = new AuthEventPublisher({ bus, revocations, store: stores.revocations, clock, logger });
    // This process's deny-set starts with what is still in force (a restarted embedded platform
    // shares it with every service; cluster verifiers ask ListRevocations).
    await loadRevocations({ set: revocations, page: (cursor) => listRevocationsPage(stores.revocations, clock, cursor), logger });
    // Revocations made by other auth instances reach the deny-set through the bus.
    if (!ctx.revocations) feed = await startRevocationFeed({ bus, set: revocations, group: `revocations.auth.${config.instanceId}`, logger });
    const tenantAdmin = new TenantAdminServiceImpl({
      tenants: stores.tenants,
      apiKeys: stores.apiKeys,
      pager,
      apiKeyPepper: keyring.apiKeyPepper,
      events,
      clock,
      logger,
      requestDeletion: createDeletionRequestOverMesh(ctx.peers),
    });
    const sessionManager = new SessionManager({
      sessions: stores.sessions,
      users: stores.users,
      tenants: stores.tenants,
      tokens,
      pepper: keyring.refreshTokenPepper,
      clock,
      logger,
      onRevoked: (session) => events.sessionRevoked(session),
    });
    const throttle = new AuthThrottle(rateLimiter.limiter, options.rateRules);
    const mfa = new TotpMfa({
      totp: stores.totp,
      passwords: stores.passwords,
      users: stores.users,
      tenants: stores.tenants,
      sessions: sessionManager,
      throttle,
      secretKek: keyring.totpKek,
      challengeKey: keyring.mfaChallengeKey,
      recoveryPepper: keyring.recoveryCodePepper,
      clock,
      logger,
      events,
    });
    const passwords = new PasswordAccounts({ passwords: stores.passwords, users: stores.users, tenants: stores.tenants, sessions: sessionManager, throttle, mfa, clock, logger, events });
    const userDataDeps = { users: stores.users, sessions: stores.sessions, passwords: stores.passwords, totp: stores.totp, sessionManager, events, clock, logger };
    const userAdmin = new UserAdminServiceImpl({
      users: stores.users,
      removeAccount: (scope, userId, actor) => removeAccount(userDataDeps, scope, userId, "user-deleted", actor),
      sessions: sessionManager,
      events,
      throttle,
      pager,
      clock,
      logger,
    });
    const apiKeyCheckOptions = { apiKeys: stores.apiKeys, tenants: stores.tenants, pepper: keyring.apiKeyPepper, clock, logger };
    const adminCredentials = createAdminCredentialHandler({ hash: adminHash, pepper: keyring.adminPepper });
    const adminCheck = (secret: string) =>
      adminCredentials.accepts(secret)
        ? adminCredentials.resolve(secret).then(
            () => true,
            () => false,
          )
        : Promise.resolve(false);
    const principalResolver = createPrincipalResolver({
      verifier: createJwtVerifier({
        jwksProvider: () => keys.jwks(),
        issuer: ACCESS_TOKEN_ISSUER,
        audience: ACCESS_TOKEN_AUDIENCE,
        algorithms: ACCESS_TOKEN_ALGORITHMS,
        clock,
      }),
      credentials: [createApiKeyCredentialHandler(apiKeyCheckOptions), serviceSecretCredentialHandler, adminCredentials],
      revocations,
      serviceAudience: "auth",
    });

    return {
      name: "auth",
      services: AUTH_SERVICES,
      register: (router) =>
        registerAuthRoutes(router, {
          tenantAdmin,
          userAdmin,
          auth: createAuthServiceImpl({ keys, sessionManager, sessions: stores.sessions, passwords, mfa, users: stores.users, pager, clock, events }),
          internal: createAuthInternalServiceImpl({
            tokens,
            serviceSecret: ctx.serviceSecret,
            checkApiKey: createApiKeyCheck(apiKeyCheckOptions),
            checkAdmin: adminCheck,
            users: stores.users,
            tenants: stores.tenants,
            revocations: stores.revocations,
            events,
            clock,
            logger,
            userData: { ...createAuthUserDataRpcs(userDataDeps), deleteTenantData: createTenantDeletionRpc({ ...userDataDeps, tenants: stores.tenants, apiKeys: stores.apiKeys }) },
          }),
        }),
      httpRoutes: {
        [JWKS_PATH]: async (_req, res) => {
          const body = JSON.stringify(await keys.jwks());
          res.writeHead(200, { "content-type": "application/jwk-set+json", "cache-control": "public, max-age=60" });
          res.end(body);
        },
      },
      principalResolver,
      close: async () => {
        await feed?.close();
        await rateLimiter.close();
        await stores.close();
      },
    };
  } catch (err) {
    await feed?.close();
    await rateLimiter.close();
    await stores.close();
    throw err;
  }
}
