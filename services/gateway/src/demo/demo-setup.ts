import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { ConversationType } from "@caas/gen/caas/chat/v1/conversation_pb.js";
import type { Logger } from "@caas/shared/logger";

/** What the demo keeps in `<dataDir>/demo/credentials.json` (mode 0600): its tenant's API key and users. */
export interface DemoCredentials {
  tenantId: string;
  /** The demo tenant's API key secret: it mints the demo users' tokens. */
  apiKey: string;
  users: { userId: string; displayName: string }[];
}

/** The demo users and rooms created at first start. */
const DEMO_USERS = [
  { userId: "alice", displayName: "Alice" },
  { userId: "bob", displayName: "Bob" },
  { userId: "carol", displayName: "Carol" },
];

/** Where the demo credentials live under the data directory. */
export function demoCredentialsPath(dataDir: string): string {
  return join(dataDir, "demo", "credentials.json");
}

/** Reads the demo credentials; undefined before the first demo start. */
export async function readDemoCredentials(dataDir: string): Promise<DemoCredentials | undefined> {
  const raw = await readFile(demoCredentialsPath(dataDir), "utf8").catch(() => undefined);
  return raw === undefined ? undefined : (JSON.parse(raw) as DemoCredentials);
}

export interface DemoSetupOptions {
  dataDir: string;
  /** The gateway's base URL (the setup goes through the public edge like any tenant backend). */
  gatewayUrl: string;
  /** CAAS_ADMIN_TOKEN when set; otherwise the first-start file `<dataDir>/admin-credential` is read. */
  adminToken?: string;
  logger: Logger;
}

/**
 * Creates the demo tenant, its API key, three users (alice, bob, carol), a group room and a
 * direct conversation, once: later starts find `<dataDir>/demo/credentials.json` and reuse it.
 * Needs the platform-admin credential only the first time.
 */
export async function ensureDemo(opts: DemoSetupOptions): Promise<DemoCredentials> {
  const existing = await readDemoCredentials(opts.dataDir);
  if (existing) return existing;
  const admin = opts.adminToken ?? (await readFile(join(opts.dataDir, "admin-credential"), "utf8").catch(() => "")).trim();
  if (!admin) {
    throw new Error("the demo's first start needs the platform-admin credential: set CAAS_ADMIN_TOKEN or keep <dataDir>/admin-credential until then");
  }
  const transport = (credential: string) => createGrpcTransport({ baseUrl: opts.gatewayUrl, interceptors: [bearer(credential)] });
  const tenants = createClient(TenantAdminService, transport(admin));
  const { tenant } = await tenants.createTenant({ name: "CAAS demo" });
  const { secret } = await tenants.createApiKey({ tenantId: tenant!.id, name: "demo" });
  const users = createClient(UserAdminService, transport(secret));
  for (const u of DEMO_USERS) await users.upsertUser(u);
  const alice = (await users.issueUserToken({ userId: "alice", deviceId: "demo-setup" })).tokens!.accessToken;
  const chat = createClient(ChatService, transport(alice));
  const { conversation: room } = await chat.createConversation({ type: ConversationType.GROUP, title: "Demo room", memberIds: ["bob", "carol"] });
  await chat.createConversation({ type: ConversationType.DIRECT, memberIds: ["bob"] });
  await chat.sendMessage({ conversationId: room!.id, clientMessageId: "demo-welcome", text: "Welcome to the CAAS demo! Open a second window as another user and say hello." });

  const creds: DemoCredentials = { tenantId: tenant!.id, apiKey: secret, users: DEMO_USERS };
  const path = demoCredentialsPath(opts.dataDir);
  await mkdir(join(opts.dataDir, "demo"), { recursive: true, mode: 0o700 });
  const temp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(temp, JSON.stringify(creds, null, 2), { mode: 0o600, flag: "wx" });
  await rename(temp, path);
  opts.logger.info({ tenantId: creds.tenantId, path }, "demo tenant and users created");
  return creds;
}

function bearer(credential: string): Interceptor {
  return (next) => (req) => {
    req.header.set("authorization", `Bearer ${credential}`);
    return next(req);
  };
}
