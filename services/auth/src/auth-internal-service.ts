import { timingSafeEqual } from "node:crypto";
import { timestampFromMs, type Duration } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  AuthInternalService,
  type BatchGetUsersRequest,
  type GetTenantPolicyRequest,
  type IssueServiceTokenRequest,
  type ListRevocationsRequest,
  type ListTenantRetentionRequest,
  type ResolveMembersRequest,
  type VerifyAdminCredentialRequest,
  type VerifyApiKeyRequest,
} from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, PermissionDeniedError, UnauthenticatedError } from "@caas/shared/errors";
import { scopeForAdmin } from "@caas/shared/tenant-scope";
import { SERVICE_NAMES } from "@caas/shared/config";
import { SERVICE_SECRET_PREFIX, serviceSecretFor } from "@caas/shared/identity/service-tokens";
import type { Clock } from "@caas/shared/clock";
import type { CredentialHandler } from "@caas/shared/identity/principal-resolver";
import type { Logger } from "@caas/shared/logger";
import type { RevocationStore } from "./ports/revocation-store.js";
import { listRevocationsPage } from "./revocation-listing.js";
import { apiKeyToProto, userToProto } from "./domain/mapping.js";
import type { AccessTokenIssuer } from "./keys/token-issuer.js";
import type { ApiKeyRecord } from "./ports/api-key-store.js";
import type { UserStore } from "./ports/user-store.js";
import type { TenantStore } from "./ports/tenant-store.js";
import { settingsFromJson } from "./domain/mapping.js";
import { resolveMembers, type MemberResolutionDeps } from "./member-resolution.js";

/** A Duration in ms (0 when unset). */
function retentionMs(d: Duration | undefined): number {
  return d ? Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6) : 0;
}

const BEARER = /^Bearer +(\S+)$/i;

/**
 * Bootstrap service secrets (`Bearer caas_s_…`) give no identity: the principal is anonymous, so
 * the secret opens nothing but IssueServiceToken, which checks it itself.
 */
export const serviceSecretCredentialHandler: CredentialHandler = {
  accepts: (credential) => credential.startsWith(SERVICE_SECRET_PREFIX),
  resolve: async () => ({ kind: "anonymous" }),
};

/**
 * caas.auth.v1.AuthInternalService. IssueServiceToken: the caller presents its bootstrap secret
 * (derived from the service-secret root for its name) and gets a service token for one target
 * service. VerifyApiKey and BatchGetUsers require a service token (enforced for every
 * `*InternalService` by the shared internal-service interceptor); the tenant of BatchGetUsers is
 * named by the calling service, which acts for the platform. ListRevocations pages the deny-set
 * entries still in force, for verifiers that start late.
 */
export function createAuthInternalServiceImpl(deps: {
  tokens: AccessTokenIssuer;
  serviceSecret: string | undefined;
  checkApiKey: (secret: string) => Promise<ApiKeyRecord>;
  /** True for the platform-admin credential (VerifyAdminCredential). */
  checkAdmin?: (secret: string) => Promise<boolean>;
  users: UserStore;
  /** GetTenantPolicy reads the role grants from here (the store of record); absent: NOT_FOUND. */
  tenants?: TenantStore;
  /** ListRevocations reads here. */
  revocations: RevocationStore;
  /** ResolveMembers publishes the users it creates here. */
  events: MemberResolutionDeps["events"];
  clock: Clock;
  logger: Logger;
  /** ExportUserData and EraseUserData (user-data.ts). */
  userData: Pick<ServiceImpl<typeof AuthInternalService>, "exportUserData" | "eraseUserData" | "deleteTenantData">;
}): ServiceImpl<typeof AuthInternalService> {
  // Each service's secret, derived once; compared in constant time.
  const secrets = deps.serviceSecret ? SERVICE_NAMES.map((name) => ({ name, secret: Buffer.from(serviceSecretFor(deps.serviceSecret!, name)) })) : [];
  return {
    exportUserData: deps.userData.exportUserData,
    eraseUserData: deps.userData.eraseUserData,
    deleteTenantData: deps.userData.deleteTenantData,

    async issueServiceToken(req: IssueServiceTokenRequest, ctx: HandlerContext) {
      if (secrets.length === 0) throw new FailedPreconditionError("service tokens are not configured (CAAS_SERVICE_SECRET)");
      const presented = BEARER.exec(ctx.requestHeader.get("authorization")?.trim() ?? "")?.[1];
      if (!presented) throw new UnauthenticatedError("the service's bootstrap secret is required (Authorization: Bearer <service secret>)");
      const bytes = Buffer.from(presented);
      const owner = secrets.find((s) => s.secret.length === bytes.length && timingSafeEqual(s.secret, bytes));
      if (!owner) throw new UnauthenticatedError("service secret is not valid");
      if (owner.name !== req.serviceName) throw new PermissionDeniedError("the secret is not the named service's");
      if (!(SERVICE_NAMES as readonly string[]).includes(req.audience)) {
        throw new InvalidArgumentError("unknown audience", [{ field: "audience", description: "must name a CAAS service" }]);
      }
      const { token, expireTimeMs } = await deps.tokens.issueService(owner.name, req.audience);
      deps.logger.debug({ service: owner.name, audience: req.audience }, "service token issued");
      return { token, expireTime: timestampFromMs(expireTimeMs) };
    },

    async verifyApiKey(req: VerifyApiKeyRequest) {
      return { apiKey: apiKeyToProto(await deps.checkApiKey(req.secret)) };
    },

    async verifyAdminCredential(req: VerifyAdminCredentialRequest) {
      if (!deps.checkAdmin || !(await deps.checkAdmin(req.secret))) throw new UnauthenticatedError("credential is not valid");
      return {};
    },

    async listRevocations(req: ListRevocationsRequest) {
      return listRevocationsPage(deps.revocations, deps.clock, req.cursor, req.limit);
    },

    async batchGetUsers(req: BatchGetUsersRequest) {
      const scope = scopeForAdmin(req.tenantId);
      const found = await Promise.all(req.userIds.map((id) => deps.users.get(scope, id)));
      return { users: found.filter((u) => u !== undefined).map(userToProto) };
    },

    async resolveMembers(req: ResolveMembersRequest, ctx: HandlerContext) {
      return resolveMembers(deps, req, ctx);
    },

    async getTenantPolicy(req: GetTenantPolicyRequest) {
      const tenant = await deps.tenants?.get(scopeForAdmin(req.tenantId));
      if (!tenant) throw new NotFoundError("tenant");
      const settings = settingsFromJson(tenant.settings);
      return { roleGrants: settings.roleGrants, ...(retentionMs(settings.messageRetention) > 0 ? { messageRetention: settings.messageRetention } : {}) };
    },

    async listTenantRetention(req: ListTenantRetentionRequest) {
      if (!deps.tenants) throw new FailedPreconditionError("this auth instance has no tenant store");
      const limit = req.limit === 0 ? 100 : req.limit;
      const page = await deps.tenants.list({ ...(req.afterTenantId ? { afterId: req.afterTenantId } : {}), limit });
      const tenants = page.flatMap((t) => {
        const { messageRetention } = settingsFromJson(t.settings);
        return retentionMs(messageRetention) > 0 ? [{ tenantId: t.id, messageRetention }] : [];
      });
      return { tenants, nextAfterTenantId: page.length === limit ? page[page.length - 1]!.id : "" };
    },
  };
}
