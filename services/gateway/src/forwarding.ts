import type { DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { AuthService } from "@caas/gen/caas/auth/v1/auth_service_pb.js";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { RealtimeService } from "@caas/gen/caas/realtime/v1/realtime_service_pb.js";
import { createPeerClient, type PeerDirectory, type ServiceName } from "@caas/shared";

/**
 * The public services the gateway exposes, and which service owns each. Internal services
 * (`<Domain>InternalService`) are never listed: they are unreachable through the edge.
 */
export const PUBLIC_SERVICES: { service: DescService; owner: ServiceName }[] = [
  { service: TenantAdminService, owner: "auth" },
  { service: UserAdminService, owner: "auth" },
  { service: AuthService, owner: "auth" },
  { service: ChatService, owner: "chat" },
  { service: RealtimeService, owner: "socket" },
];

type AnyMethod = (input: unknown, ctx: { signal: AbortSignal }) => unknown;

/**
 * An implementation of `service` built from its descriptor alone: every method calls the same
 * method on the owner through a generated client, for all four method kinds. The caller's
 * Authorization header, correlation id and remaining deadline travel with the call (the request
 * scope, docs/decisions/0002); the owner verifies the credential itself, so the gateway never
 * re-implements a public service and never vouches for a caller.
 */
export function createForwarder<T extends DescService>(service: T, owner: ServiceName, peers: PeerDirectory): ServiceImpl<T> {
  // Unary calls get a deadline when the caller set none; streams (realtime sessions) live as long
  // as the caller keeps them open.
  const unary = createPeerClient(service, owner, peers, { defaultTimeoutMs: 30_000 }) as unknown as Record<string, AnyMethod>;
  const streams = createPeerClient(service, owner, peers, { defaultTimeoutMs: 0 }) as unknown as Record<string, AnyMethod>;
  const impl: Record<string, AnyMethod> = {};
  for (const method of service.methods) {
    const call = (method.methodKind === "unary" ? unary : streams)[method.localName]!;
    // Unary and client streaming return a promise, server and bidi streaming an async iterable:
    // either way the owner's answer (or error) is the gateway's answer.
    impl[method.localName] = (input, ctx) => call(input, { signal: ctx.signal });
  }
  return impl as unknown as ServiceImpl<T>;
}
