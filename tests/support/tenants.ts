import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";

/** `Authorization: Bearer <credential>` as an interceptor. */
export const bearer =
  (credential: string): Interceptor =>
  (next) =>
  (req) => {
    req.header.set("authorization", `Bearer ${credential}`);
    return next(req);
  };

/** The gRPC code a call failed with, or undefined when it succeeded. */
export async function codeOf(p: Promise<unknown>): Promise<Code | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e).code,
  );
}

/**
 * A fresh tenant with users and one access token each (device "d1"), through the running auth
 * service at `authUrl` (or a gateway in front of it).
 */
export async function tenantWithUsers(authUrl: string, adminCredential: string, userIds: string[], name = "e2e") {
  const admin = createClient(TenantAdminService, createGrpcTransport({ baseUrl: authUrl, interceptors: [bearer(adminCredential)] }));
  const { tenant } = await admin.createTenant({ name: `${name}-${Date.now()}` });
  const { secret } = await admin.createApiKey({ tenantId: tenant!.id, name: "backend" });
  const backend = createClient(UserAdminService, createGrpcTransport({ baseUrl: authUrl, interceptors: [bearer(secret)] }));
  const tokens: Record<string, string> = {};
  for (const userId of userIds) {
    await backend.upsertUser({ userId, displayName: userId });
    tokens[userId] = (await backend.issueUserToken({ userId, deviceId: "d1" })).tokens!.accessToken;
  }
  /** A new session for `userId` on `deviceId`: access and refresh tokens and the session id. */
  const issue = async (userId: string, deviceId: string) => (await backend.issueUserToken({ userId, deviceId })).tokens!;
  return { tenantId: tenant!.id, tokens, token: (user: string) => tokens[user]!, issue, backend, admin };
}
