import { randomBytes, randomUUID } from "node:crypto";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { createContextValues, createHandlerContext, type Client, type HandlerContext } from "@connectrpc/connect";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { createMemoryRateLimiter } from "@caas/shared/rate-limiting/memory";
import { FakeClock } from "@caas/shared/clock";
import { PageTokenCodec } from "@caas/shared/page-token";
import { principalKey, type Principal } from "@caas/shared/context";
import type { LogEvent } from "@caas/shared/eventing/log";
import { freshTenantScope } from "@caas/shared/testing";
import { ChatServiceImpl } from "../../src/chat-service.js";
import { ChatInternalServiceImpl } from "../../src/chat-internal-service.js";
import { openChatStores, type ChatBackend, type ChatStores } from "../../src/chat-stores.js";
import type { ChatLimits } from "../../src/core.js";
import type { MediaAttacher } from "../../src/ports/media-attacher.js";
import type { ProjectedCommits } from "../../src/projections/projected-commits.js";

/** A user principal as the identity interceptor builds it from a verified token. */
export function userPrincipal(tenantId: string, userId: string): Principal {
  return { kind: "user", tenantId, userId, sessionId: `s-${userId}`, deviceId: "d1", scopes: [], roles: [] };
}

/** A handler context carrying `principal` (tier 1: calling the service class directly). */
export function contextFor(principal: Principal): HandlerContext {
  return createHandlerContext({
    service: ChatService,
    method: ChatService.method.sendMessage,
    protocolName: "connect",
    requestMethod: "POST",
    url: "http://chat.test/",
    contextValues: createContextValues().set(principalKey, principal),
  });
}

/** The service class seen as a client acting for one principal: requests are built from init shapes, like a real client. */
export type Tier1Client = Client<typeof ChatService>;

export function asPrincipal(impl: ChatServiceImpl, principal: Principal): Tier1Client {
  const out: Record<string, unknown> = {};
  for (const m of ChatService.methods) {
    const fn = (impl as unknown as Record<string, ((req: unknown, ctx: HandlerContext) => Promise<unknown>) | undefined>)[m.localName];
    out[m.localName] = async (init: object) => {
      if (!fn) throw new Error(`${m.name} is not implemented by the class`);
      return fn.call(impl, create(m.input, init as never), contextFor(principal));
    };
  }
  return out as Tier1Client;
}

/** One chat instance over a backend, with a fake clock, for tier-1 tests. */
export interface Instance {
  impl: ChatServiceImpl;
  internal: ChatInternalServiceImpl;
  stores: ChatStores;
  commits: LogEvent[];
  close(): Promise<void>;
}

export async function openInstance(
  backend: ChatBackend,
  opts: { clock: FakeClock; secret: Buffer; limits?: Partial<ChatLimits>; media?: MediaAttacher; projected?: ProjectedCommits },
): Promise<Instance> {
  const stores = await openChatStores(backend, { clock: opts.clock });
  const commits: LogEvent[] = [];
  const pageTokens = new PageTokenCodec(opts.secret);
  const internal = new ChatInternalServiceImpl({ stores, pageTokens });
  const impl = new ChatServiceImpl({
    stores,
    clock: opts.clock,
    pageTokens,
    rateLimiter: createMemoryRateLimiter({ clock: opts.clock }),
    ...(opts.limits ? { limits: opts.limits } : {}),
    ...(opts.media ? { media: opts.media } : {}),
    ...(opts.projected ? { projected: opts.projected } : {}),
    onCommit: (e) => commits.push(e),
  });
  return { impl, internal, stores, commits, close: () => stores.close() };
}

/** A fresh tenant with clients for named users, on one chat backend. */
export interface World {
  tenantId: string;
  clock: FakeClock;
  instance: Instance;
  as(userId: string, tenantId?: string): Tier1Client;
  close(): Promise<void>;
}

export interface WorldOptions {
  /** Attaches message attachments (support/media.ts builds the real media service in-process); none: sends with attachments are UNAVAILABLE. */
  media?: MediaAttacher;
  /** One fake clock shared with what else the test runs (e.g. media). */
  clock?: FakeClock;
}

/** A world on a fresh SQLite file in `dir`. */
export async function sqliteWorld(dir: string, limits?: Partial<ChatLimits>, tenantId = freshTenantScope().tenantId, opts: WorldOptions = {}): Promise<World> {
  return backendWorld({ kind: "sqlite", path: join(dir, `chat-${randomUUID()}.db`) }, limits, tenantId, opts);
}

/** A fresh tenant with clients for named users, on any chat backend. */
export async function backendWorld(backend: ChatBackend, limits?: Partial<ChatLimits>, tenantId = freshTenantScope().tenantId, opts: WorldOptions = {}): Promise<World> {
  const clock = opts.clock ?? new FakeClock();
  const instance = await openInstance(backend, { clock, secret: randomBytes(32), ...(limits ? { limits } : {}), ...(opts.media ? { media: opts.media } : {}) });
  return {
    tenantId,
    clock,
    instance,
    as: (userId, tenant = tenantId) => asPrincipal(instance.impl, userPrincipal(tenant, userId)),
    close: () => instance.close(),
  };
}
