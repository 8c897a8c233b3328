import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { RetryInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { PeerDirectory } from "@caas/shared/clients";
import { createErrorInterceptor } from "@caas/shared/interceptors/errors";
import { createForwarder } from "../src/forwarding.js";
import { OutstandingBound, OUTSTANDING_RETRY_AFTER_MS } from "../src/outstanding-bound.js";

/**
 * The gateway refuses a call at once, with RESOURCE_EXHAUSTED and a retry delay, when the bound of
 * calls outstanding to the owner is reached, instead of holding it where no admission control
 * sees it; a call finishing makes room again. A real HTTP/2 gateway in front of a chat stand-in
 * whose SendMessage waits until the test lets it answer.
 */
describe("gateway: a bound on the calls outstanding to an owner service", () => {
  const servers: http2.Http2Server[] = [];
  const sessions = new Set<http2.ServerHttp2Session>();
  const waiting: (() => void)[] = [];
  const bound = new OutstandingBound(2);
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
            sendMessage: async () => {
              await new Promise<void>((resolve) => waiting.push(resolve));
              return {};
            },
          }),
      }),
    );
    const peers = new PeerDirectory();
    peers.set("chat", [chatUrl]);
    gatewayUrl = await listen(
      connectNodeAdapter({
        interceptors: [createErrorInterceptor()],
        routes: (router) => router.service(ChatService, createForwarder(ChatService, "chat", peers, undefined, bound)),
      }),
    );
  });

  afterAll(async () => {
    for (const s of sessions) s.destroy();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  let client: ReturnType<typeof createClient<typeof ChatService>>;
  beforeAll(() => {
    client = createClient(ChatService, createGrpcTransport({ baseUrl: gatewayUrl }));
  });
  const send = (id: string) => client.sendMessage({ conversationId: "c", clientMessageId: id, text: "hi" }, { timeoutMs: 10_000 });

  it("refuses the call over the bound with RESOURCE_EXHAUSTED and RetryInfo, and admits one again once a call has finished", async () => {
    const first = [send("a"), send("b")];
    await vi.waitFor(() => expect(waiting).toHaveLength(2), { timeout: 5_000 });
    expect(bound.count("chat")).toBe(2);

    const refused = await send("c").then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(refused?.code).toBe(Code.ResourceExhausted);
    expect(refused?.rawMessage).toMatch(/2 calls outstanding to chat/);
    const delay = refused?.findDetails(RetryInfoSchema)[0]?.retryDelay;
    expect(Number(delay?.seconds ?? 0) * 1000 + (delay?.nanos ?? 0) / 1e6).toBe(OUTSTANDING_RETRY_AFTER_MS);
    // The refused call never reached the owner.
    expect(waiting).toHaveLength(2);

    waiting.shift()!();
    await first[0];
    expect(bound.count("chat")).toBe(1);
    const later = send("d");
    await vi.waitFor(() => expect(waiting).toHaveLength(2), { timeout: 5_000 });
    for (const release of waiting.splice(0)) release();
    await Promise.all([first[1], later]);
    expect(bound.count("chat")).toBe(0);
  });

  it("lets retries hold at most half of the bound, so that a first attempt still reaches the owner", async () => {
    const retry = (id: string) => client.sendMessage({ conversationId: "c", clientMessageId: id, text: "hi" }, { timeoutMs: 10_000, headers: { "grpc-previous-rpc-attempts": "1" } });
    const held = retry("r1");
    await vi.waitFor(() => expect(waiting).toHaveLength(1), { timeout: 5_000 });
    const refused = await retry("r2").then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(refused?.code).toBe(Code.ResourceExhausted);
    expect(refused?.rawMessage).toMatch(/1 retried calls outstanding to chat/);
    const first = send("f");
    await vi.waitFor(() => expect(waiting).toHaveLength(2), { timeout: 5_000 });
    for (const release of waiting.splice(0)) release();
    await Promise.all([held, first]);
    expect(bound.count("chat")).toBe(0);
  });

  it("counts a call that failed at the owner down too", async () => {
    const failing = client.sendMessage({ conversationId: "c", clientMessageId: "x", text: "hi" }, { timeoutMs: 300 }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect((await failing)?.code).toBe(Code.DeadlineExceeded);
    await vi.waitFor(() => expect(bound.count("chat")).toBe(0), { timeout: 3_000 });
    for (const release of waiting.splice(0)) release();
  });

  it("refuses a bound that is not a positive integer", () => {
    expect(() => new OutstandingBound(0)).toThrow(RangeError);
    expect(() => new OutstandingBound(1.5)).toThrow(RangeError);
  });
});
