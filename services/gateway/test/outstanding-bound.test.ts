import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { RetryInfoSchema } from "@caas/gen/google/rpc/error_details_pb.js";
import { PeerDirectory } from "@caas/shared/clients";
import { ResourceExhaustedError } from "@caas/shared/errors";
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

/**
 * The bound by time: calls outstanding to an owner, divided by the rate the gateway sees them
 * finish, is how long a new call would wait (Little's law). On a clock the test moves, with
 * calls the test finishes by hand.
 */
describe("gateway: the outstanding bound by the wait a call would have", () => {
  function world(targetMs = 1_000, max = 512, overloadedTargetMs?: number) {
    let now = 1_000_000;
    const bound = new OutstandingBound({ max, targetMs, overloadedTargetMs, now: () => now });
    const start = (attempt: { retry: boolean; remainingMs?: number } = { retry: false }) => {
      let finish!: () => void;
      const done = bound.run("chat", () => new Promise<void>((r) => (finish = r)), attempt);
      return { done, finish: () => finish() };
    };
    const refusal = (attempt?: { retry: boolean; remainingMs?: number }) =>
      start(attempt).done.then(
        () => undefined,
        (e: unknown) => e as ResourceExhaustedError,
      );
    /** The owner finishing `perSec` calls a second, one after another, for `n` calls. */
    const measure = async (n: number, perSec: number) => {
      for (let i = 0; i < n; i++) {
        const c = start();
        now += 1000 / perSec;
        c.finish();
        await c.done;
      }
    };
    return { bound, start, refusal, measure, advance: (ms: number) => (now += ms) };
  }

  it("refuses the call that would wait past the target at the measured rate, long before the count bound, naming the drain time", async () => {
    const w = world(1_000);
    await w.measure(20, 10); // 10 calls a second, 100 ms each alone
    // A second of waiting is let through: ten calls outstanding, the eleventh waits 1000 ms beyond the 100 ms it takes alone.
    const held = Array.from({ length: 10 }, () => w.start());
    held.push(w.start());
    expect(w.bound.count("chat")).toBe(11);
    // The twelfth would wait 1100 ms.
    const refused = await w.refusal();
    expect(refused).toBeInstanceOf(ResourceExhaustedError);
    expect(refused?.message).toMatch(/11 calls outstanding to chat, finishing about 10\.0\/s: this one would wait about 1100 ms \(target 1000 ms/);
    expect(refused?.retryAfterMs).toBe(1_100);
    // A fixed count of 512 would have let it through to wait behind the others.
    expect(w.bound.count("chat")).toBe(11);
    for (const h of held) h.finish();
    await Promise.all(held.map((h) => h.done));
    // With the work drained, a call is let through again.
    const next = w.start();
    expect(w.bound.count("chat")).toBe(1);
    next.finish();
    await next.done;
  });

  it("refuses a call that would not be done within 80 % of its caller's remaining deadline", async () => {
    const w = world(60_000);
    await w.measure(20, 10);
    const held = Array.from({ length: 5 }, () => w.start());
    // Six calls at 10/s: done in 600 ms; 700 ms left leaves 560 ms.
    expect((await w.refusal({ retry: false, remainingMs: 700 }))?.message).toMatch(/700 ms left of the caller's deadline/);
    const fits = w.start({ retry: false, remainingMs: 5_000 });
    expect(w.bound.count("chat")).toBe(6);
    for (const h of [...held, fits]) h.finish();
    await Promise.all([...held, fits].map((h) => h.done));
  });

  it("lets retries through only while the owner keeps up, and first attempts up to the target", async () => {
    const w = world(1_000);
    await w.measure(20, 10); // 10 calls a second, 100 ms alone: retries while a call would wait at most 20 ms
    // Four calls always go through; past them, a retry would wait 400 ms.
    const retries = Array.from({ length: 4 }, () => w.start({ retry: true }));
    expect((await w.refusal({ retry: true }))?.message).toMatch(/a retry would wait about 400 ms, and retries are let through only while the owner keeps up \(at most 20 ms\)/);
    // A first attempt still goes through, up to the target wait.
    const first = Array.from({ length: 7 }, () => w.start());
    expect(w.bound.count("chat")).toBe(11);
    for (const h of [...retries, ...first]) h.finish();
    await Promise.all([...retries, ...first].map((h) => h.done));
  });

  it("lets retries hold at most half of what the bound allows", async () => {
    const w = world(60_000, 6);
    const held = Array.from({ length: 3 }, () => w.start({ retry: true }));
    expect((await w.refusal({ retry: true }))?.message).toMatch(/3 retried calls outstanding to chat/);
    const first = w.start();
    expect(w.bound.count("chat")).toBe(4);
    for (const h of [...held, first]) h.finish();
    await Promise.all([...held, first].map((h) => h.done));
  });

  it("stretches a refused retry's delay by the retry demand's excess over what was let through, up to 30 s", async () => {
    const w = world(1_000);
    await w.measure(20, 10);
    const held = Array.from({ length: 4 }, () => w.start({ retry: true })); // let through: four retries
    const delays: number[] = [];
    for (let i = 0; i < 200; i++) delays.push((await w.refusal({ retry: true }))!.retryAfterMs);
    // The first refusal: 5 asked for 4 let through, 1 s stretched by 1.25.
    expect(delays[0]).toBe(1_250);
    // Then growing with the crowd: 44 asked for 4 let through is 11 s; 200 refused, the 30 s cap.
    expect(delays[39]).toBe(11_000);
    expect(delays[199]).toBe(30_000);
    // A first attempt still goes through.
    const first = w.start();
    expect(w.bound.count("chat")).toBe(5);
    for (const h of [...held, first]) h.finish();
    await Promise.all([...held, first].map((h) => h.done));
  });

  /** Retries one after another, each finished at once (the owner keeps up): how many were let through before the first refusal. */
  const retriesLetThrough = async (w: ReturnType<typeof world>, tries: number) => {
    for (let i = 0; i < tries; i++) {
      const before = w.bound.count("chat");
      const c = w.start({ retry: true });
      const outcome = c.done.then(
        () => undefined,
        (e: unknown) => e as ResourceExhaustedError,
      );
      w.advance(10);
      // A refused call never started (there is nothing to finish).
      if (w.bound.count("chat") > before) c.finish();
      const refused = await outcome;
      if (refused) return { letThrough: i, refused };
    }
    return { letThrough: tries, refused: undefined };
  };

  /** Twenty calls measured, then eleven outstanding and the twelfth refused (past the 1 s target), then all finished: 31 first attempts let through, one refusal. */
  const overloadOnce = async (w: ReturnType<typeof world>) => {
    await w.measure(20, 10);
    const held = Array.from({ length: 11 }, () => w.start());
    expect(await w.refusal()).toBeInstanceOf(ResourceExhaustedError);
    for (const h of held) h.finish();
    await Promise.all(held.map((h) => h.done));
  };

  it("while the owner is or just was overloaded, lets retries through only within a tenth of the first attempts plus two, even while it keeps up", async () => {
    const w = world(1_000);
    await overloadOnce(w);
    // 31 first attempts over the window: 2 + 3.1 retries; the owner is idle, so only the budget refuses.
    const { letThrough, refused } = await retriesLetThrough(w, 20);
    expect(letThrough).toBe(6);
    expect(refused?.message).toMatch(/let 6 retries through to chat for 31 first attempts in the last 10 s, and refuses calls to it \(its retry budget while overloaded\)/);
    // A first attempt is not held to the budget.
    const first = w.start();
    expect(w.bound.count("chat")).toBe(1);
    first.finish();
    await first.done;
  });

  it("lets retries through freely to an owner it has refused nothing for 10 s (e.g. the calls of a restarted instance)", async () => {
    expect((await retriesLetThrough(world(1_000), 20)).letThrough).toBe(20);
    const w = world(1_000);
    await overloadOnce(w);
    expect((await retriesLetThrough(w, 20)).letThrough).toBeLessThan(20);
    // Ten seconds without a refusal for the owner's load lift the budget.
    w.advance(10_001);
    expect((await retriesLetThrough(w, 20)).letThrough).toBe(20);
  });

  it("lifts the budget 10 s after the last refusal for the owner's load, however many retries the budget refused since", async () => {
    const w = world(1_000);
    await overloadOnce(w);
    // The new calls stopped; only retries come, to an idle owner, and the budget refuses most of them.
    for (let i = 0; i < 3; i++) {
      expect((await retriesLetThrough(w, 20)).letThrough).toBeLessThan(20);
      w.advance(3_000);
    }
    // 10 s after the overload's last refusal: the budget's own refusals did not keep it in force.
    w.advance(1_001);
    expect((await retriesLetThrough(w, 20)).letThrough).toBe(20);
  });

  it("stretches the delay of a retry refused by the budget by the retry demand's excess, up to 30 s", async () => {
    const w = world(1_000);
    await overloadOnce(w);
    await retriesLetThrough(w, 6);
    const delays: number[] = [];
    for (let i = 0; i < 200; i++) delays.push((await w.refusal({ retry: true }))!.retryAfterMs);
    // 7 asked for 6 let through, then growing with the crowd: 60 asked for 6 is 10 s; 206 for 6, the 30 s cap.
    expect(delays[0]).toBe(1_167);
    expect(delays[53]).toBe(10_000);
    expect(delays[199]).toBe(30_000);
  });

  it("stretches the refusal's delay to the drain time of the work outstanding, at most 10 s", async () => {
    const w = world(60_000, 30);
    await w.measure(20, 2);
    const held = Array.from({ length: 30 }, () => w.start());
    // 30 calls at 2 a second: 15 s to drain, named as 10 s.
    expect((await w.refusal())?.retryAfterMs).toBe(10_000);
    for (const h of held) h.finish();
    await Promise.all(held.map((h) => h.done));
  });

  it("holds first attempts to the shorter wait while the owner is or just was overloaded, and to the long target again 10 s after the last refusal", async () => {
    const w = world(1_000, 512, 300);
    const fill = async (expectedLetThrough: number) => {
      await w.measure(20, 10); // 10 calls a second, 100 ms alone: n outstanding make the next wait n x 100 ms
      const held: ReturnType<typeof w.start>[] = [];
      let refused: ResourceExhaustedError | undefined;
      while (!refused) {
        const before = w.bound.count("chat");
        const c = w.start();
        if (w.bound.count("chat") > before) held.push(c);
        else
          refused = await c.done.then(
            () => undefined,
            (e: unknown) => e as ResourceExhaustedError,
          );
      }
      expect(held).toHaveLength(expectedLetThrough);
      for (const h of held) h.finish();
      await Promise.all(held.map((h) => h.done));
      return refused;
    };
    // Never refused: a burst queues up to the 1 s target (ten calls waiting behind, the eleventh let through).
    expect((await fill(11))?.message).toMatch(/would wait about 1100 ms \(target 1000 ms, CAAS_GATEWAY_TARGET_WAIT_MS\)/);
    // Just refused: only 300 ms of queue (the four probes, then a wait of about 400 ms is refused).
    expect((await fill(4))?.message).toMatch(/would wait about \d+ ms \(target 300 ms while it is overloaded, CAAS_GATEWAY_OVERLOADED_WAIT_MS\)/);
    // Each refusal keeps it in force; ten seconds without one lift it.
    w.advance(10_001);
    expect((await fill(11))?.message).toMatch(/target 1000 ms, CAAS_GATEWAY_TARGET_WAIT_MS/);
  });
});
