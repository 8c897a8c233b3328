import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, createClient, type HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { createCorrelationInterceptor } from "@caas/shared/interceptors/correlation";
import { createLogger } from "@caas/shared/logger";
import { PeerDirectory } from "@caas/shared/clients";
import { createForwarder } from "../src/forwarding.js";

/** What the owner saw of one forwarded call. */
interface Seen {
  timeoutMs: number | undefined;
  aborted: boolean;
  previousAttempts: string | null;
}

/**
 * The gateway's forwarded call carries the edge caller's deadline and cancellation to the owner:
 * a real HTTP/2 gateway (the correlation interceptor that holds the request scope, the
 * forwarder) in front of a chat stand-in whose SendMessage waits until its own signal aborts.
 */
describe("gateway forwarding: deadline and cancellation reach the owner", () => {
  const servers: http2.Http2Server[] = [];
  const sessions = new Set<http2.ServerHttp2Session>();
  const seen: Seen[] = [];
  let gatewayUrl = "";

  const listen = async (handler: ReturnType<typeof connectNodeAdapter>) => {
    const srv = http2.createServer(handler);
    srv.on("session", (s) => sessions.add(s));
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  };

  beforeAll(async () => {
    const chatUrl = await listen(
      connectNodeAdapter({
        routes: (router) =>
          router.service(ChatService, {
            sendMessage: async (_req: unknown, ctx: HandlerContext) => {
              const call: Seen = { timeoutMs: ctx.timeoutMs(), aborted: false, previousAttempts: ctx.requestHeader.get("grpc-previous-rpc-attempts") };
              seen.push(call);
              await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
              call.aborted = true;
              throw new ConnectError("gone", Code.Canceled);
            },
          }),
      }),
    );
    const peers = new PeerDirectory();
    peers.set("chat", [chatUrl]);
    const logger = createLogger({ service: "gateway-test", instance: "t", level: "silent" });
    gatewayUrl = await listen(
      connectNodeAdapter({
        interceptors: [createCorrelationInterceptor({ logger })],
        routes: (router) => router.service(ChatService, createForwarder(ChatService, "chat", peers)),
      }),
    );
  });

  afterAll(async () => {
    for (const s of sessions) s.destroy();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  const client = () => createClient(ChatService, createGrpcTransport({ baseUrl: gatewayUrl }));
  const request = { conversationId: "c", clientMessageId: "m", text: "hi" };

  it("passes the caller's remaining deadline on, and the owner's call ends when it passes", async () => {
    const before = seen.length;
    const err = await client()
      .sendMessage(request, { timeoutMs: 800 })
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    expect(err?.code).toBe(Code.DeadlineExceeded);
    const call = seen[before]!;
    expect(call.timeoutMs).toBeGreaterThan(0);
    expect(call.timeoutMs).toBeLessThanOrEqual(800);
    await vi.waitFor(() => expect(call.aborted).toBe(true), { timeout: 3_000 });
  });

  it("cancels the owner's call when the edge caller goes away", async () => {
    const before = seen.length;
    const abort = new AbortController();
    const pending = client()
      .sendMessage(request, { signal: abort.signal, timeoutMs: 60_000 })
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    await vi.waitFor(() => expect(seen.length).toBe(before + 1), { timeout: 3_000 });
    abort.abort();
    expect((await pending)?.code).toBe(Code.Canceled);
    await vi.waitFor(() => expect(seen[before]!.aborted).toBe(true), { timeout: 3_000 });
  });

  it("passes a retrying client's retry marker on, and none when the client sent none", async () => {
    const before = seen.length;
    const retry = client()
      .sendMessage(request, { timeoutMs: 300, headers: { "grpc-previous-rpc-attempts": "2" } })
      .catch(() => undefined);
    const first = client()
      .sendMessage(request, { timeoutMs: 300 })
      .catch(() => undefined);
    await Promise.all([retry, first]);
    await vi.waitFor(() => expect(seen.length).toBe(before + 2), { timeout: 3_000 });
    expect(
      seen
        .slice(before)
        .map((c) => c.previousAttempts)
        .sort(),
    ).toEqual(["2", null].sort());
  });
});
