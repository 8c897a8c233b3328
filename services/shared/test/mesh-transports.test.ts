import { Writable } from "node:stream";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { BadRequestSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { ChatInternalService, type CheckAccessRequest } from "@caas/gen/caas/chat/v1/chat_internal_service_pb.js";
import { RealtimeService } from "@caas/gen/caas/realtime/v1/realtime_service_pb.js";
import { createPeerClient, PeerDirectory } from "../src/clients.js";
import { loadConfig } from "../src/config.js";
import { currentScope, principalKey, runInScope, type Principal } from "../src/context.js";
import { InvalidArgumentError, UnauthenticatedError } from "../src/errors.js";
import { createLogger } from "../src/logger.js";
import { startServiceHost, type RunningService } from "../src/server/service-host.js";

/**
 * The same calls between services over both mesh transports (CAAS_MESH_TRANSPORT): loopback
 * HTTP/2 through the listener, and in memory through the instance's own handlers. A caller and a
 * callee must not be able to tell them apart.
 */

const TENANT = "01a215af-6132-725b-bc47-064e28d115d4";
const CONVERSATION = "01a215af-6132-725b-bc47-064e28d115d5";

/** What the callee saw of the last call. */
interface Seen {
  principal?: Principal;
  header?: Headers;
  scopeCorrelation?: string;
  timeoutMs?: number;
  aborted?: boolean;
  streamEnded?: boolean;
}

let seen: Seen = {};
let release: () => void = () => undefined;
let running: RunningService | undefined;

afterEach(async () => {
  release();
  await running?.close();
  running = undefined;
});

/** Waits until the handler's signal aborts (the call was cancelled or ran out of time). */
function untilAborted(ctx: HandlerContext): Promise<void> {
  return new Promise((resolve) => {
    if (ctx.signal.aborted) resolve();
    ctx.signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

async function checkAccess(req: CheckAccessRequest, ctx: HandlerContext) {
  seen = { principal: ctx.values.get(principalKey), header: new Headers(ctx.requestHeader), scopeCorrelation: currentScope()?.correlationId, timeoutMs: ctx.timeoutMs() };
  if (req.userId === "wait") {
    await untilAborted(ctx);
    seen.aborted = true;
    throw new ConnectError("ended", Code.Canceled);
  }
  if (req.userId === "gate") await new Promise<void>((r) => (release = r));
  if (req.userId === "bad") throw new InvalidArgumentError("user_id is refused here", [{ field: "user_id", description: "must not be bad" }]);
  return { accesses: [{ conversationId: req.conversationIds[0] ?? "" }] };
}

/** A host whose resolver knows two credentials: a service token of socket's and a user's. */
async function startProbe(transport: "http2" | "in-process") {
  const config = loadConfig({ CAAS_SHUTDOWN_GRACE_MS: "3000", CAAS_READ_MAX_BYTES: "1024" });
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const logger = createLogger({ service: "chat", instance: "t", level: "error", destination: sink });
  running = await startServiceHost({
    definition: {
      name: "chat",
      services: [ChatInternalService, RealtimeService],
      register: (router) => {
        router.service(ChatInternalService, { checkAccess });
        router.service(RealtimeService, {
          subscribe: async function* (_req, ctx) {
            seen = { principal: ctx.values.get(principalKey), header: new Headers(ctx.requestHeader) };
            try {
              for (let i = 0; ; i++) {
                yield {};
                if (i >= 2) await untilAborted(ctx);
                if (ctx.signal.aborted) return;
              }
            } finally {
              seen.streamEnded = true;
            }
          },
        });
      },
      principalResolver: {
        resolve: async (h) => {
          const auth = h.get("authorization");
          if (auth === "Bearer svc") return { kind: "service", service: "socket" };
          if (auth === "Bearer user") return { kind: "user", tenantId: TENANT, userId: "u1", sessionId: "s", deviceId: "d", scopes: [], roles: [] };
          if (auth) throw new UnauthenticatedError("unknown credential");
          return { kind: "anonymous" };
        },
      },
    },
    config,
    logger,
    port: 0,
  });
  const peers = new PeerDirectory();
  peers.set("chat", [running.url]);
  if (transport === "in-process") peers.setInProcess(running.url, running.inProcess);
  return { peers, host: running };
}

const request = (userId: string) => ({ tenantId: TENANT, userId, conversationIds: [CONVERSATION] });
const svc = { headers: { authorization: "Bearer svc" } };

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  return p.then(
    () => expect.fail("the call should have failed"),
    (e: unknown) => ConnectError.from(e),
  );
}

describe.each(["http2", "in-process"] as const)("calls between services over %s", (transport) => {
  it("admits a service token to an internal RPC and refuses a user's token and no token", async () => {
    const { peers } = await startProbe(transport);
    const chat = createPeerClient(ChatInternalService, "chat", peers);
    const ok = await chat.checkAccess(request("u1"), svc);
    expect(ok.accesses[0]?.conversationId).toBe(CONVERSATION);
    expect(seen.principal).toEqual({ kind: "service", service: "socket" });
    expect((await failure(chat.checkAccess(request("u1"), { headers: { authorization: "Bearer user" } }))).code).toBe(Code.PermissionDenied);
    expect((await failure(chat.checkAccess(request("u1")))).code).toBe(Code.Unauthenticated);
    expect((await failure(chat.checkAccess(request("u1"), { headers: { authorization: "Bearer forged" } }))).code).toBe(Code.Unauthenticated);
  });

  it("carries the caller's correlation id, credential, remaining deadline and retry marker", async () => {
    const { peers } = await startProbe(transport);
    const chat = createPeerClient(ChatInternalService, "chat", peers);
    const scope = { correlationId: "corr-1234", authorization: "Bearer svc", deadlineMs: Date.now() + 1500, logger: createLogger({ service: "t", instance: "t", level: "error" }) };
    await runInScope(scope, () => chat.checkAccess(request("u1"), { headers: { "grpc-previous-rpc-attempts": "2" } }));
    expect(seen.header?.get("x-correlation-id")).toBe("corr-1234");
    // The callee's own request scope, not the caller's leaking through.
    expect(seen.scopeCorrelation).toBe("corr-1234");
    expect(seen.principal?.kind).toBe("service");
    expect(seen.header?.get("grpc-previous-rpc-attempts")).toBe("2");
    expect(seen.timeoutMs).toBeGreaterThan(0);
    expect(seen.timeoutMs).toBeLessThanOrEqual(1500);
  });

  it("ends a call past its deadline with DEADLINE_EXCEEDED, and the handler learns of it", async () => {
    const { peers } = await startProbe(transport);
    const chat = createPeerClient(ChatInternalService, "chat", peers);
    const err = await failure(chat.checkAccess(request("wait"), { ...svc, timeoutMs: 150 }));
    expect(err.code).toBe(Code.DeadlineExceeded);
    await expect.poll(() => seen.aborted).toBe(true);
  });

  it("reaches the handler when the caller cancels, and answers the caller CANCELED", async () => {
    const { peers } = await startProbe(transport);
    const chat = createPeerClient(ChatInternalService, "chat", peers);
    const abort = new AbortController();
    const call = failure(chat.checkAccess(request("wait"), { ...svc, signal: abort.signal }));
    await expect.poll(() => seen.principal?.kind).toBe("service");
    abort.abort();
    expect((await call).code).toBe(Code.Canceled);
    await expect.poll(() => seen.aborted).toBe(true);
  });

  it("passes error codes and details through, and refuses a request over the read limit", async () => {
    const { peers } = await startProbe(transport);
    const chat = createPeerClient(ChatInternalService, "chat", peers);
    const err = await failure(chat.checkAccess(request("bad"), svc));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toBe("user_id is refused here");
    expect(err.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toEqual(["user_id"]);
    // Request validation runs in the callee's interceptors on either transport.
    expect((await failure(chat.checkAccess({ tenantId: "not-a-uuid", userId: "u1", conversationIds: [CONVERSATION] }, svc))).code).toBe(Code.InvalidArgument);
    const big = { tenantId: TENANT, userId: "u1", conversationIds: Array.from({ length: 60 }, () => CONVERSATION) };
    expect((await failure(chat.checkAccess(big, svc))).code).toBe(Code.ResourceExhausted);
  });

  it("streams messages and ends the handler's stream when the caller stops reading", async () => {
    const { peers } = await startProbe(transport);
    const realtime = createPeerClient(RealtimeService, "chat", peers, { defaultTimeoutMs: 0 });
    const abort = new AbortController();
    let got = 0;
    const reading = (async () => {
      for await (const _ of realtime.subscribe({}, { headers: { authorization: "Bearer user" }, signal: abort.signal })) if (++got === 3) abort.abort();
    })().catch((e: unknown) => ConnectError.from(e));
    const end = await reading;
    expect(got).toBe(3);
    expect(end instanceof ConnectError ? end.code : undefined).toBe(Code.Canceled);
    expect(seen.principal?.kind).toBe("user");
    await expect.poll(() => seen.streamEnded).toBe(true);
  });

  it("lets a call in progress finish while the instance shuts down, and refuses new calls UNAVAILABLE", async () => {
    const { peers, host } = await startProbe(transport);
    const chat = createPeerClient(ChatInternalService, "chat", peers);
    const inFlight = chat.checkAccess(request("gate"), svc);
    await expect.poll(() => seen.principal?.kind).toBe("service");
    const closing = host.close();
    // Once the listener is closing, a new call is refused whichever way it would have gone.
    await expect.poll(async () => (await failure(chat.checkAccess(request("u1"), svc))).code).toBe(Code.Unavailable);
    release();
    expect((await inFlight).accesses).toHaveLength(1);
    await closing;
    running = undefined;
  });
});

describe("the mesh transport setting", () => {
  it("is in-process by default in embedded mode, loopback HTTP/2 in cluster mode, and in-process is refused in cluster mode", () => {
    expect(loadConfig({}).meshTransport).toBe("in-process");
    expect(loadConfig({ CAAS_MESH_TRANSPORT: "http2" }).meshTransport).toBe("http2");
    expect(() => loadConfig({ CAAS_MESH_TRANSPORT: "memory" })).toThrow(/CAAS_MESH_TRANSPORT="memory" must be "in-process" or "http2"/);
    const cluster = { CAAS_MODE: "cluster", CAAS_KAFKA_BROKERS: "127.0.0.1:1", CAAS_SCHEMA_REGISTRY_URL: "http://127.0.0.1:2" };
    expect(loadConfig(cluster).meshTransport).toBe("http2");
    expect(() => loadConfig({ ...cluster, CAAS_MESH_TRANSPORT: "in-process" })).toThrow(/in-process is for embedded mode only/);
  });
});
