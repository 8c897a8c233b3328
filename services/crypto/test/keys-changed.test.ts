import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DeviceChangeKind } from "@caas/gen/caas/crypto/v1/device_keys_pb.js";
import type { UserStateEventEnvelope } from "@caas/gen/caas/events/v1/user_state_events_pb.js";
import { FakeClock } from "@caas/shared/clock";
import { createSqliteEventBus } from "@caas/shared/eventing/sqlite";
import { USER_STATE_EVENTS } from "@caas/shared/eventing/topics";
import type { EventBus, Subscription } from "@caas/shared/eventing/bus";
import { createLogger } from "@caas/shared/logger";
import { freshTenantScope } from "@caas/shared/testing";
import { busKeysChangedNotifier, CONVERSATIONS_PER_RECORD } from "../src/keys-changed.js";

const logger = createLogger({ service: "crypto-test", instance: "test", level: "silent" });

describe("keys-changed notices on the user-state topic (SQLite bus)", () => {
  let bus: EventBus;
  let sub: Subscription;
  let seen: UserStateEventEnvelope[];

  beforeEach(async () => {
    bus = await createSqliteEventBus({ path: ":memory:", clock: new FakeClock(), logger });
    seen = [];
    sub = await bus.subscribe(USER_STATE_EVENTS, { group: "keys-changed.test", from: "earliest" }, async (r) => void seen.push(r.value));
  });
  afterEach(async () => {
    await sub.close();
    await bus.close();
  });

  it("names every conversation of the user, a record per 1000, and one record for a user in none", async () => {
    const scope = freshTenantScope();
    const ids = Array.from({ length: CONVERSATIONS_PER_RECORD + 5 }, (_, i) => `c${i}`);
    const memberships = { conversationsOf: async (_s: unknown, userId: string) => (userId === "bob" ? ids : []) };
    const notify = busKeysChangedNotifier({ bus, clock: new FakeClock(), logger, memberships });
    await notify(scope, "bob", 2, DeviceChangeKind.REMOVED, 7);
    await notify(scope, "ann", 1, DeviceChangeKind.ADDED, 1);
    await vi.waitFor(() => expect(seen).toHaveLength(3), { timeout: 5_000 });
    const summary = seen.map((e) => {
      if (e.payload.case !== "deviceListChanged") throw new Error(`unexpected ${e.payload.case}`);
      const v = e.payload.value;
      return [e.tenantId === scope.tenantId, e.userId, v.deviceId, v.kind, v.changeSeq, v.conversationIds.length];
    });
    expect(summary).toEqual([
      [true, "bob", 2, DeviceChangeKind.REMOVED, 7n, CONVERSATIONS_PER_RECORD],
      [true, "bob", 2, DeviceChangeKind.REMOVED, 7n, 5],
      [true, "ann", 1, DeviceChangeKind.ADDED, 1n, 0],
    ]);
    const named = seen.slice(0, 2).flatMap((e) => (e.payload.case === "deviceListChanged" ? e.payload.value.conversationIds : []));
    expect(named).toEqual(ids);
  });

  it("publishes nothing and throws nothing when chat cannot answer (best effort)", async () => {
    const memberships = { conversationsOf: async () => Promise.reject(new Error("chat unavailable")) };
    const notify = busKeysChangedNotifier({ bus, clock: new FakeClock(), logger, memberships });
    await expect(notify(freshTenantScope(), "bob", 1, DeviceChangeKind.ADDED, 1)).resolves.toBeUndefined();
    await bus.publish(USER_STATE_EVENTS, []);
    expect(seen).toEqual([]);
  });
});
