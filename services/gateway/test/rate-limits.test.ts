import { create } from "@bufbuild/protobuf";
import { afterAll, describe, expect, it } from "vitest";
import { ChatService } from "@caas/gen/caas/chat/v1/chat_service_pb.js";
import { RealtimeService, SendRequestSchema } from "@caas/gen/caas/realtime/v1/realtime_service_pb.js";
import { createMemoryRateLimiter } from "@caas/shared/rate-limiting/memory";
import { createRedisClient } from "@caas/shared/redis";
import { createRedisRateLimiter } from "@caas/shared/rate-limiting/redis";
import { DEFAULT_RATE_LIMITS, type RateLimitConfig } from "@caas/shared/rate-limiting/rules";
import { FakeClock } from "@caas/shared/clock";
import { ResourceExhaustedError } from "@caas/shared/errors";
import type { Principal } from "@caas/shared/context";
import { infraEnv, RUN_PREFIX } from "@caas/shared/testing";
import { EdgeRateLimits } from "../src/edge-rate-limits.js";
import { PUBLIC_SERVICES } from "../src/forwarding.js";
import { actionOf, METHOD_ACTIONS, OWNER_COUNTED } from "../src/domain/rate-limit-actions.js";

const method = (service: { methods: { name: string }[] }, name: string) => service.methods.find((m) => m.name === name)! as never;
const user = (tenantId: string, userId: string): Principal => ({ kind: "user", tenantId, userId, sessionId: "s", deviceId: "d", scopes: [], roles: [] });
const config = (limit: number, tenantFactor: number): RateLimitConfig => ({
  perUser: { ...DEFAULT_RATE_LIMITS, default: { limit, windowMs: 60_000 }, "message.send": { limit, windowMs: 60_000 } },
  tenantFactor,
});

/** The error of a refused check (fails the test when the check passed). */
async function refusal(p: Promise<void>): Promise<ResourceExhaustedError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ResourceExhaustedError);
  return err as ResourceExhaustedError;
}

describe("RPC -> action table", () => {
  it("names only methods the gateway serves", () => {
    const served = new Set(PUBLIC_SERVICES.flatMap(({ service }) => service.methods.map((m) => `${service.typeName}/${m.name}`)));
    for (const name of Object.keys(METHOD_ACTIONS)) expect(served, name).toContain(name);
    for (const name of Object.keys(OWNER_COUNTED)) expect(served, name).toContain(name.split("#")[0]);
  });

  it("leaves sends to chat, which counts every send on every path (ADR 0023)", () => {
    expect(actionOf(method(ChatService, "SendMessage"), {})).toBeUndefined();
    expect(actionOf(method(ChatService, "ForwardMessage"), {})).toBeUndefined();
    const send = method(RealtimeService, "Send");
    expect(actionOf(send, create(SendRequestSchema, { frame: { frame: { case: "send", value: { conversationId: "c", clientMessageId: "m" } } } }))).toBeUndefined();
    expect(Object.values(METHOD_ACTIONS)).not.toContain("message.send");
  });

  it("maps deletes, realtime frames by their case, and everything else to default", () => {
    expect(actionOf(method(ChatService, "DeleteMessage"), {})).toBe("delete");
    expect(actionOf(method(ChatService, "ListConversations"), {})).toBe("default");
    const send = method(RealtimeService, "Send");
    expect(actionOf(send, create(SendRequestSchema, { frame: { frame: { case: "typing", value: { conversationId: "c", started: true } } } }))).toBe("typing");
    expect(actionOf(send, create(SendRequestSchema, { frame: { frame: { case: "ping", value: {} } } }))).toBe("default");
    expect(actionOf(method(RealtimeService, "Subscribe"), undefined)).toBe("default");
  });
});

describe("EdgeRateLimits", () => {
  it("refuses a user past their limit with the retry delay, and refills", async () => {
    const clock = new FakeClock();
    const limits = new EdgeRateLimits(createMemoryRateLimiter({ clock }), config(2, 10));
    const alice = user("t1", "alice");
    await limits.check(alice, "default");
    await limits.check(alice, "default");
    const err = await refusal(limits.check(alice, "default"));
    expect(err.message).toMatch(/default.*this user/);
    expect(err.retryAfterMs).toBe(30_000);
    // Actions have buckets of their own; an owner-counted call takes nothing here.
    await limits.check(alice, "delete");
    for (let i = 0; i < 5; i++) await limits.check(alice, undefined);
    clock.advance(30_000);
    await limits.check(alice, "default");
  });

  it("caps a tenant at the user limit times the factor; another tenant is not affected", async () => {
    const limits = new EdgeRateLimits(createMemoryRateLimiter({ clock: new FakeClock() }), config(2, 2));
    for (const u of ["a1", "a2"]) for (let i = 0; i < 2; i++) await limits.check(user("t1", u), "default");
    const err = await refusal(limits.check(user("t1", "a3"), "default"));
    expect(err.message).toMatch(/this tenant/);
    await limits.check(user("t2", "a3"), "default");
    await limits.check(user("t2", "a1"), "default");
  });

  it("counts only signed-in users (API keys and admin calls are throttled by auth)", async () => {
    const limits = new EdgeRateLimits(createMemoryRateLimiter({ clock: new FakeClock() }), config(1, 1));
    for (let i = 0; i < 5; i++) {
      await limits.check({ kind: "anonymous" }, "default");
      await limits.check({ kind: "platform-admin" }, "default");
      await limits.check({ kind: "api-key", tenantId: "t1", apiKeyId: "k" }, "default");
    }
    await limits.check(user("t1", "u"), "default");
    await refusal(limits.check(user("t1", "u"), "default"));
  });
});

const redisUrl = infraEnv("CAAS_REDIS_URL");

describe.skipIf(!redisUrl)("EdgeRateLimits on Redis (cluster)", () => {
  const clients = redisUrl ? [createRedisClient(redisUrl), createRedisClient(redisUrl)] : [];
  afterAll(() => Promise.all(clients.map((c) => c.close())));

  it("two gateway instances share one count per user and per tenant", async () => {
    const prefix = `${RUN_PREFIX}:gw-${Date.now().toString(36)}`;
    const [a, b] = clients.map((redis) => new EdgeRateLimits(createRedisRateLimiter({ redis, prefix }), config(3, 2))) as [EdgeRateLimits, EdgeRateLimits];
    const tenant = `t${Date.now().toString(36)}`;
    await a.check(user(tenant, "u1"), "default");
    await b.check(user(tenant, "u1"), "default");
    await a.check(user(tenant, "u1"), "default");
    const err = await refusal(b.check(user(tenant, "u1"), "default"));
    expect(err.message).toMatch(/this user/);
    expect(err.retryAfterMs).toBeGreaterThan(0);
    // Tenant bucket: 6. u1 took 3; u2 takes 3 across both instances; u3 is refused by the tenant.
    await b.check(user(tenant, "u2"), "default");
    await a.check(user(tenant, "u2"), "default");
    await b.check(user(tenant, "u2"), "default");
    expect((await refusal(a.check(user(tenant, "u3"), "default"))).message).toMatch(/this tenant/);
    await b.check(user(`${tenant}x`, "u3"), "default");
  });
});
