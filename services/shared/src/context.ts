import { AsyncLocalStorage } from "node:async_hooks";
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { Logger } from "./logger.js";

/**
 * Who is calling. Built by the principal interceptor from a verified credential only
 * (services/shared/src/auth): an access token gives `user`, a tenant API key `api-key` (auth
 * service only), the platform-admin credential `platform-admin`.
 */
export type Principal =
  | { kind: "anonymous" }
  | { kind: "user"; tenantId: string; userId: string; sessionId: string; deviceId: string; scopes: string[]; roles: string[] }
  | { kind: "api-key"; tenantId: string; apiKeyId: string }
  | { kind: "service"; service: string }
  | { kind: "platform-admin" };

/** Per-request values every handler can read from Connect's context values. */
export const correlationIdKey = createContextKey<string>("", { description: "x-correlation-id" });
export const principalKey = createContextKey<Principal>({ kind: "anonymous" }, { description: "authenticated caller" });

/**
 * The request being served, carried across awaits so that outbound generated clients can forward
 * the correlation id, the caller's credentials and the remaining deadline without every call
 * site threading them through.
 */
export interface RequestScope {
  correlationId: string;
  /** The caller's Authorization header, forwarded unchanged to peers (DESIGN: service identity). */
  authorization?: string;
  /** Absolute deadline in epoch ms, when the caller set one. */
  deadlineMs?: number;
  logger: Logger;
}

const storage = new AsyncLocalStorage<RequestScope>();

/** Runs `fn` with `scope` as the current request scope. */
export function runInScope<T>(scope: RequestScope, fn: () => T): T {
  return storage.run(scope, fn);
}

/** The request scope of the current async context, if any. */
export function currentScope(): RequestScope | undefined {
  return storage.getStore();
}

/** The correlation id of a handler's request. */
export function correlationIdOf(ctx: HandlerContext): string {
  return ctx.values.get(correlationIdKey);
}
