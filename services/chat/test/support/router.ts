import { createClient, createRouterTransport, type Client, type ConnectRouter, type Interceptor, type Transport } from "@connectrpc/connect";
import { ChatInternalService } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { createErrorInterceptor } from "@caas/shared/interceptors/errors";
import { createValidationInterceptor } from "@caas/shared/interceptors/validation";
import { principalKey } from "@caas/shared/context";
import { userPrincipal } from "./harness.js";

/**
 * Test-only header naming the caller as `<tenant>/<user>`, or a service as `svc:<name>`; the real
 * host resolves a verified JWT instead.
 */
export const TEST_PRINCIPAL_HEADER = "x-test-principal";

/** Sets principalKey from TEST_PRINCIPAL_HEADER (anonymous without it), as the identity interceptor would. */
export function testPrincipalInterceptor(): Interceptor {
  return (next) => async (req) => {
    const named = req.header.get(TEST_PRINCIPAL_HEADER);
    if (named?.startsWith("svc:")) {
      req.contextValues.set(principalKey, { kind: "service", service: named.slice(4) });
    } else if (named) {
      const [tenantId, userId] = named.split("/") as [string, string];
      req.contextValues.set(principalKey, userPrincipal(tenantId, userId));
    }
    return next(req);
  };
}

export interface RouterOptions {
  /** Server interceptors outside the standard ones (e.g. correlation). */
  outer?: Interceptor[];
  readMaxBytes?: number;
  /** Sent by the client on every call. */
  headers?: Record<string, string>;
}

/**
 * An in-memory transport over chat's routes with the host's error mapping and validation and the
 * test principal interceptor (tier 2).
 */
export function routerTransport(register: (router: ConnectRouter) => void, opts: RouterOptions = {}): Transport {
  const headers: Interceptor = (next) => (req) => {
    for (const [k, v] of Object.entries(opts.headers ?? {})) req.header.set(k, v);
    return next(req);
  };
  return createRouterTransport(register, {
    transport: { interceptors: [headers] },
    router: {
      interceptors: [...(opts.outer ?? []), createErrorInterceptor(), testPrincipalInterceptor(), createValidationInterceptor()],
      ...(opts.readMaxBytes ? { readMaxBytes: opts.readMaxBytes } : {}),
    },
  });
}

/** A ChatService client acting as `<tenant>/<user>` (anonymous when `who` is undefined). */
export function chatClientAs(register: (router: ConnectRouter) => void, who: string | undefined, opts: RouterOptions = {}): Client<typeof ChatService> {
  const headers = { ...opts.headers, ...(who ? { [TEST_PRINCIPAL_HEADER]: who } : {}) };
  return createClient(ChatService, routerTransport(register, { ...opts, headers }));
}

/** A ChatInternalService client acting as `svc:<name>` or `<tenant>/<user>` (anonymous when `who` is undefined). */
export function internalClientAs(register: (router: ConnectRouter) => void, who: string | undefined): Client<typeof ChatInternalService> {
  return createClient(ChatInternalService, routerTransport(register, who ? { headers: { [TEST_PRINCIPAL_HEADER]: who } } : {}));
}
