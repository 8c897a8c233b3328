import type { DescMethod, DescService, Message } from "@bufbuild/protobuf";
import { ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { AuthService } from "@caas/gen/caas/auth/v1/auth_service_pb.js";
import { TenantAdminService } from "@caas/gen/caas/auth/v1/tenant_admin_service_pb.js";
import { UserAdminService } from "@caas/gen/caas/auth/v1/user_admin_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { AuditService } from "@caas/gen/caas/compliance/v1/audit_service_pb.js";
import { PrivacyService } from "@caas/gen/caas/compliance/v1/privacy_service_pb.js";
import { RetentionService } from "@caas/gen/caas/compliance/v1/retention_service_pb.js";
import { KeyDirectoryService } from "@caas/gen/caas/crypto/v1/key_directory_service_pb.js";
import { MediaService } from "@caas/gen/caas/media/v1/media_service_pb.js";
import { RealtimeService } from "@caas/gen/caas/realtime/v1/realtime_service_pb.js";
import { SearchService } from "@caas/gen/caas/search/v1/search_service_pb.js";
import { createPeerClient, type PeerDirectory } from "@caas/shared/clients";
import { rawStreamBodyKey } from "@caas/shared/server/raw-stream-body";
import { relayStreamBody } from "@caas/shared/stream-body-relay";
import type { ServiceName } from "@caas/shared/config";
import type { OutstandingBound } from "./outstanding-bound.js";
import { binaryCall, opaqueStreamResponses, relayedResponse } from "./stream-relay.js";

/**
 * The public services the gateway exposes, and which service owns each. Internal services
 * (`<Domain>InternalService`) are never listed: they are unreachable through the edge.
 */
export const PUBLIC_SERVICES: { service: DescService; owner: ServiceName }[] = [
  { service: TenantAdminService, owner: "auth" },
  { service: UserAdminService, owner: "auth" },
  { service: AuthService, owner: "auth" },
  { service: ChatService, owner: "chat" },
  { service: MediaService, owner: "media" },
  { service: KeyDirectoryService, owner: "crypto" },
  { service: AuditService, owner: "compliance" },
  { service: PrivacyService, owner: "compliance" },
  { service: RetentionService, owner: "compliance" },
  { service: RealtimeService, owner: "socket" },
  { service: SearchService, owner: "search" },
];

type AnyMethod = (input: unknown, ctx: HandlerContext) => unknown;
type ClientMethod = (input: unknown, opts: { signal: AbortSignal; headers?: Headers }) => unknown;

/**
 * Request headers of the caller's that travel to the owner as they are: the retry marker a
 * retrying gRPC client sets (A6), by which chat's send admission takes retries on within a budget.
 */
const PASSED_ON = ["grpc-previous-rpc-attempts"];

/** Whether the caller marked the call as a retry of an earlier attempt. */
function isRetry(ctx: HandlerContext): boolean {
  return Number(ctx.requestHeader.get("grpc-previous-rpc-attempts") ?? 0) > 0;
}

/** The caller's headers to pass on to the owner, if any. */
function passedOn(ctx: HandlerContext): Headers | undefined {
  let out: Headers | undefined;
  for (const name of PASSED_ON) {
    const v = ctx.requestHeader.get(name);
    if (v !== null) (out ??= new Headers()).set(name, v);
  }
  return out;
}

/**
 * Runs before a call is forwarded (the edge rate limits); throwing refuses the call. `input` is
 * the request message of unary calls, undefined for streams (checked once, when opened).
 */
export type ForwardGuard = (method: DescMethod, input: unknown, ctx: HandlerContext) => Promise<void>;

/**
 * An implementation of `service` built from its descriptor alone: every method calls the same
 * method on the owner through a generated client, for all four method kinds. The caller's
 * Authorization header, correlation id and remaining deadline travel with the call (the request
 * scope, docs/decisions/0002), and its retry marker; the owner verifies the credential itself, so the gateway never
 * re-implements a public service and never vouches for a caller. Unary and client-streaming calls
 * count against `bound` (outstanding-bound.ts) while they are with the owner. The messages of
 * server and bidi streams (the realtime streams, thousands a second) are relayed as the owner's
 * bytes, not decoded and re-encoded (stream-relay.ts).
 */
export function createForwarder<T extends DescService>(service: T, owner: ServiceName, peers: PeerDirectory, guard?: ForwardGuard, bound?: OutstandingBound): ServiceImpl<T> {
  // Unary calls get a deadline when the caller set none; streams (realtime sessions) live as long
  // as the caller keeps them open.
  const unary = createPeerClient(service, owner, peers, { defaultTimeoutMs: 30_000 }) as unknown as Record<string, ClientMethod>;
  const streams = createPeerClient(opaqueStreamResponses(service), owner, peers, { defaultTimeoutMs: 0 }) as unknown as Record<string, ClientMethod>;
  const impl: Record<string, AnyMethod> = {};
  for (const method of service.methods) {
    const call = (method.methodKind === "unary" ? unary : streams)[method.localName]!;
    // Unary and client streaming return a promise, server and bidi streaming an async iterable:
    // either way the owner's answer (or error) is the gateway's answer.
    const forward: AnyMethod = (input, ctx) => call(input, { signal: ctx.signal, headers: passedOn(ctx) });
    const check = guard ?? (async () => {});
    if (method.methodKind === "unary" || method.methodKind === "client_streaming") {
      const unaryInput = method.methodKind === "unary";
      impl[method.localName] = async (input, ctx) => {
        await check(method, unaryInput ? input : undefined, ctx);
        const call = async () => {
          try {
            return await forward(input, ctx);
          } catch (err) {
            throw ownerError(err);
          }
        };
        return bound ? bound.run(owner, call, { retry: isRetry(ctx), remainingMs: ctx.timeoutMs() }) : call();
      };
    } else {
      const output = method.output;
      impl[method.localName] = async function* (input: unknown, ctx: HandlerContext) {
        await check(method, undefined, ctx);
        const binary = binaryCall(ctx.requestHeader.get("content-type"));
        // A binary caller's response body takes the owner's messages after the first as the bytes
        // received (stream-body-relay.ts): the loop below then sees the first message, and the
        // owner's end once the caller's body has had the rest.
        const raw = binary ? ctx.values.get(rawStreamBodyKey) : undefined;
        try {
          // Leaving the loop (the caller went away) returns the owner's stream, which cancels it.
          const messages = (raw ? relayStreamBody(raw, () => forward(input, ctx)) : forward(input, ctx)) as AsyncIterable<Message>;
          for await (const m of messages) yield relayedResponse(output, m, binary);
        } catch (err) {
          throw ownerError(err);
        }
      };
    }
  }
  return impl as unknown as ServiceImpl<T>;
}

/** Response headers of the owner's transport that must not reach the caller's (other) protocol. */
const TRANSPORT_HEADERS = /^(content-type|content-length|content-encoding|transfer-encoding|connection|keep-alive|date|grpc-.*|connect-.*|accept-encoding|trailer)$/i;

/**
 * The owner's error as the gateway's answer: same code, message and details, with the owner's
 * application metadata but without its transport headers. Left in, the owner's `content-type`
 * (application/grpc) would replace the gateway's in a Connect error response, and a browser
 * client, unable to read the body, would see only the HTTP status (e.g. 400 -> INTERNAL).
 */
function ownerError(err: unknown): ConnectError {
  const e = ConnectError.from(err);
  const metadata = new Headers();
  e.metadata.forEach((value, key) => {
    if (!TRANSPORT_HEADERS.test(key)) metadata.append(key, value);
  });
  const out = new ConnectError(e.rawMessage, e.code, metadata, undefined, e.cause);
  // Details as received (wire-encoded Any): passed on unchanged, whatever their type.
  out.details = e.details;
  return out;
}
