import { Code, ConnectError, type Client } from "@connectrpc/connect";
import type { AuthInternalService } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { UserStatus } from "@caas/gen/caas/auth/v1/user_pb.js";
import { UnavailableError } from "@caas/shared/errors";
import type { TenantScope } from "@caas/shared/tenant-scope";
import type { UserDirectory } from "../ports/user-directory.js";

export interface GrpcUserDirectoryOptions {
  /** A generated AuthInternalService client (the mesh peer client). */
  client: Client<typeof AuthInternalService>;
  /** A service token for audience `auth` (`sub=svc:chat`). */
  serviceToken(): Promise<string>;
}

/** BatchGetUsers takes at most this many ids per call. */
const BATCH = 100;
const TRANSIENT = new Set([Code.Unavailable, Code.DeadlineExceeded, Code.Aborted, Code.ResourceExhausted, Code.Canceled]);

/**
 * UserDirectory over AuthInternalService.BatchGetUsers with chat's service token. An unreachable
 * auth service is UNAVAILABLE (nothing is changed); any other refusal is a fault of this
 * deployment and reaches the caller as INTERNAL.
 */
export function createGrpcUserDirectory(opts: GrpcUserDirectoryOptions): UserDirectory {
  return {
    async missing(scope: TenantScope, userIds: readonly string[]): Promise<string[]> {
      const active = new Set<string>();
      for (let i = 0; i < userIds.length; i += BATCH) {
        const batch = userIds.slice(i, i + BATCH);
        try {
          const headers = { authorization: `Bearer ${await opts.serviceToken()}` };
          const { users } = await opts.client.batchGetUsers({ tenantId: scope.tenantId, userIds: [...batch] }, { headers });
          for (const u of users) if (u.status !== UserStatus.DEACTIVATED) active.add(u.id);
        } catch (err) {
          const e = ConnectError.from(err);
          if (TRANSIENT.has(e.code)) throw new UnavailableError(`the users cannot be checked now (${e.rawMessage}); nothing was changed`);
          throw new Error(`AuthInternalService.BatchGetUsers failed: ${Code[e.code]}: ${e.rawMessage}`, { cause: err });
        }
      }
      return userIds.filter((id) => !active.has(id));
    },
  };
}
