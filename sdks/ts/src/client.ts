import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { AuthService } from "./gen/caas/auth/v1/auth_service_pb.js";
import { TenantAdminService } from "./gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "./gen/caas/auth/v1/user_admin_service_pb.js";
import { ChatService } from "./gen/caas/chat/v1/chat_service_pb.js";
import { MediaService } from "./gen/caas/media/v1/media_service_pb.js";
import { RealtimeService } from "./gen/caas/realtime/v1/realtime_service_pb.js";
import { SearchService } from "./gen/caas/search/v1/search_service_pb.js";
import { KeyDirectoryService } from "./gen/caas/crypto/v1/key_directory_service_pb.js";
import { AuditService } from "./gen/caas/compliance/v1/audit_service_pb.js";
import type { BackoffOptions } from "./realtime/backoff.js";
import type { OutboxStore } from "./realtime/outbox.js";
import { RealtimeSession, type CursorStore } from "./realtime/session.js";
import type { WebSocketFactory } from "./realtime/socket.js";
import { createAuthInterceptor, TokenKeeper, type TokenOptions } from "./tokens.js";

/** What to connect to and as whom. */
export interface CaasClientOptions extends Partial<TokenOptions> {
  /** The gateway's base URL, e.g. `http://127.0.0.1:3000` (the only address a client needs). */
  baseUrl: string;
  /**
   * Makes the transport instead of the default (Connect protocol, binary); it must install the
   * given interceptors (token, typed errors). E.g. gRPC-web from @connectrpc/connect-web.
   */
  transport?: (baseUrl: string, interceptors: Interceptor[]) => Transport;
  /** Extra interceptors for every call. */
  interceptors?: Interceptor[];
  /** Realtime settings: persistent stores for the send queue and cursor, backoff bounds, a WebSocket factory. */
  realtime?: { outboxStore?: OutboxStore; cursorStore?: CursorStore; backoff?: BackoffOptions; webSocket?: WebSocketFactory };
}

/** A client for every public service on the gateway, and the realtime session. */
export interface CaasClient {
  /** Sign-in, sign-up, refresh, sessions, MFA (end users). */
  auth: Client<typeof AuthService>;
  /** Conversations, messages, history, Sync, read state (end users). */
  chat: Client<typeof ChatService>;
  /** Uploads and downloads. */
  media: Client<typeof MediaService>;
  /** Full-text search over the caller's messages, conversations and the user directory. */
  search: Client<typeof SearchService>;
  /** End-to-end encryption key directory: device keys, prekey bundles, device-list history, safety numbers. */
  keys: Client<typeof KeyDirectoryService>;
  /** The tenant's tamper-evident audit log (tenant admins and API keys). */
  audit: Client<typeof AuditService>;
  /** Users and user tokens (a tenant's backend, with an API key as the token). */
  users: Client<typeof UserAdminService>;
  /** Tenants and API keys (the platform admin). */
  tenants: Client<typeof TenantAdminService>;
  /** The realtime RPCs (Subscribe/Send for clients without WebSockets). */
  realtimeRpc: Client<typeof RealtimeService>;
  /** The realtime session over `/ws`; call `realtime.start()` to connect. */
  realtime: RealtimeSession;
  /** The token holder the calls and the realtime session share. */
  tokens: TokenKeeper;
}

/** How one platform (browser or Node) makes transports and WebSockets. */
export interface PlatformAdapters {
  transport(baseUrl: string, interceptors: Interceptor[]): Transport;
  webSocket: WebSocketFactory;
}

/** Builds a client on the given platform adapters (browser.ts and node.ts pass theirs). */
export function createCaasClientWith(platform: PlatformAdapters, opts: CaasClientOptions): CaasClient {
  const baseUrl = opts.baseUrl.replace(/\/+$/, "");
  const tokens = new TokenKeeper({ accessToken: opts.accessToken ?? "", ...(opts.refresh ? { refresh: opts.refresh } : {}) });
  const interceptors = [createAuthInterceptor(opts.accessToken !== undefined ? tokens : undefined), ...(opts.interceptors ?? [])];
  const transport = (opts.transport ?? platform.transport)(baseUrl, interceptors);
  const chat = createClient(ChatService, transport);
  const realtime = new RealtimeSession({
    url: `${baseUrl.replace(/^http/, "ws")}/ws`,
    tokens,
    chat,
    webSocket: opts.realtime?.webSocket ?? platform.webSocket,
    ...(opts.realtime?.outboxStore ? { outboxStore: opts.realtime.outboxStore } : {}),
    ...(opts.realtime?.cursorStore ? { cursorStore: opts.realtime.cursorStore } : {}),
    ...(opts.realtime?.backoff ? { backoff: opts.realtime.backoff } : {}),
  });
  return {
    auth: createClient(AuthService, transport),
    chat,
    media: createClient(MediaService, transport),
    search: createClient(SearchService, transport),
    keys: createClient(KeyDirectoryService, transport),
    audit: createClient(AuditService, transport),
    users: createClient(UserAdminService, transport),
    tenants: createClient(TenantAdminService, transport),
    realtimeRpc: createClient(RealtimeService, transport),
    realtime,
    tokens,
  };
}
