import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AuthInternalService } from "@caas/gen/caas/auth/v1/auth_internal_service_pb.js";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { SERVICE_SECRET_FILE, serviceSecretFor } from "@caas/shared/identity/service-tokens";
import { bearer } from "../support/tenants.js";
import type { Rng } from "./proto-cases.js";

/** Credentials of every kind the platform accepts, so fuzz cases reach past authentication. */
export interface FuzzCredentials {
  admin: string;
  apiKey: string;
  user: string;
  /** A service token per audience (service name). */
  service: Record<string, string>;
}

/** A tenant, an API key, a user token and service tokens for every service, on a fresh embedded platform. */
export async function makeCredentials(endpoints: Record<string, string>, dataDir: string): Promise<FuzzCredentials> {
  const admin = readFileSync(join(dataDir, "admin-credential"), "utf8").trim();
  const auth = endpoints.auth!;
  const tenants = createClient(TenantAdminService, createGrpcTransport({ baseUrl: auth, interceptors: [bearer(admin)] }));
  const { tenant } = await tenants.createTenant({ name: "fuzz" });
  const { secret: apiKey } = await tenants.createApiKey({ tenantId: tenant!.id, name: "fuzz" });
  const users = createClient(UserAdminService, createGrpcTransport({ baseUrl: auth, interceptors: [bearer(apiKey)] }));
  for (const userId of ["ann", "bob"]) await users.upsertUser({ userId, displayName: userId });
  const user = (await users.issueUserToken({ userId: "ann", deviceId: "fuzz" })).tokens!.accessToken;
  const root = readFileSync(join(dataDir, SERVICE_SECRET_FILE), "utf8").trim();
  const internal = createClient(AuthInternalService, createGrpcTransport({ baseUrl: auth, interceptors: [bearer(serviceSecretFor(root, "chat"))] }));
  const service: Record<string, string> = {};
  for (const audience of Object.keys(endpoints)) service[audience] = (await internal.issueServiceToken({ serviceName: "chat", audience })).token;
  return { admin, apiKey, user, service };
}

const HEADER_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-";

/**
 * Request metadata for one case: a credential (none, garbage, or a real one of any kind), and
 * sometimes odd deadlines, encodings, correlation ids and random extra headers.
 */
export function randomMetadata(r: Rng, creds: FuzzCredentials, endpoint: string): { headers: Record<string, string>; compressedFlag: boolean } {
  const headers: Record<string, string> = {};
  const auth = r.pick(["none", "garbage", "admin", "apiKey", "user", "user", "service", "service", "wrong-service"] as const);
  if (auth === "garbage") headers.authorization = r.pick(["Bearer x", "Bearer ", "Basic abc", "Bearer eyJhbGciOiJub25lIn0.e30.", "Bearer caas_s_nope", "bearer  " + "a".repeat(3000)]);
  else if (auth === "admin") headers.authorization = `Bearer ${creds.admin}`;
  else if (auth === "apiKey") headers.authorization = `Bearer ${creds.apiKey}`;
  else if (auth === "user") headers.authorization = `Bearer ${creds.user}`;
  else if (auth === "service") headers.authorization = `Bearer ${creds.service[endpoint] ?? creds.user}`;
  else if (auth === "wrong-service") headers.authorization = `Bearer ${creds.service[r.pick(Object.keys(creds.service))]}`;
  if (r.chance(0.1)) headers["grpc-timeout"] = r.pick(["1n", "0S", "99999999H", "abc", "5S", "100m"]);
  if (r.chance(0.05)) headers["grpc-encoding"] = r.pick(["gzip", "br", "snappy", "identity"]);
  if (r.chance(0.05)) headers["x-correlation-id"] = r.pick(["", "x".repeat(4000), "id with spaces", "ok-123"]);
  // Kept small: larger header blocks get REFUSED_STREAM and a GOAWAY today (ADR 0102), not one stream's error.
  for (let i = 0, n = r.chance(0.1) ? 1 + r.int(3) : 0; i < n; i++) {
    let name = "x-";
    for (let j = 0; j < 1 + r.int(20); j++) name += r.pick([...HEADER_CHARS]);
    headers[name] = r.chance(0.5) ? "v".repeat(r.int(500)) : String(r.int(1e9));
  }
  return { headers, compressedFlag: r.chance(0.03) };
}
