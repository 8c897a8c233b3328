import { Code, ConnectError, type Client } from "@connectrpc/connect";
import type { AuthInternalService } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { UnavailableError } from "@caas/shared/errors";
import type { TenantScope } from "@caas/shared/tenant-scope";
import type { UserDirectory } from "../ports/user-directory.js";

export interface GrpcUserDirectoryOptions {
  /** A generated AuthInternalService client (the mesh peer client). */
  client: Client<typeof AuthInternalService>;
  /** A service token for audience `auth` (`sub=svc:chat`). */
  serviceToken(): Promise<string>;
}

/** ResolveMembers takes at most this many ids per call. */
const BATCH = 100;
const TRANSIENT = new Set([Code.Unavailable, Code.DeadlineExceeded, Code.Aborted, Code.ResourceExhausted, Code.Canceled]);

/**
 * UserDirectory over AuthInternalService.ResolveMembers with chat's service token (auth applies
 * the tenant's create_users_on_first_use setting, so chat holds no copy of it). An unreachable
 * auth service is UNAVAILABLE (nothing is changed); any other refusal is a fault of this
 * deployment and reaches the caller as INTERNAL.
 */
export function createGrpcUserDirectory(opts: GrpcUserDirectoryOptions): UserDirectory {
  return {
    async missing(scope: TenantScope, userIds: readonly string[]): Promise<string[]> {
      const missing: string[] = [];
      for (let i = 0; i < userIds.length; i += BATCH) {
        const batch = userIds.slice(i, i + BATCH);
        try {
          const headers = { authorization: `Bearer ${await opts.serviceToken()}` };
          const { missingUserIds } = await opts.client.resolveMembers({ tenantId: scope.tenantId, userIds: [...batch] }, { headers });
          missing.push(...missingUserIds);
        } catch (err) {
          const e = ConnectError.from(err);
          if (TRANSIENT.has(e.code)) throw new UnavailableError(`the users cannot be checked now (${e.rawMessage}); nothing was changed`);
          throw new Error(`AuthInternalService.ResolveMembers failed: ${Code[e.code]}: ${e.rawMessage}`, { cause: err });
        }
      }
      return missing;
    },
  };
}
