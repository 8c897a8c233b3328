import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { describe, expect, it, vi } from "vitest";
import { PresenceStatus, SetTypingSchema, type Presence, type Typing } from "@caas/gen/caas/realtime/v1/frame_pb.js";
import { createLogger } from "@caas/shared/logger";
import { createMemoryRateLimiter } from "@caas/shared/rate-limiting/memory";
import { systemClock } from "@caas/shared/clock";
import { createMemoryPresence } from "../src/adapters/presence-memory.js";
import { createMemoryPubSub } from "../src/adapters/pubsub-memory.js";
import { Hub } from "../src/hub.js";
import { PresenceTracker } from "../src/presence.js";
import { TypingRelay } from "../src/typing.js";

const logger = createLogger({ service: "socket-test", instance: "test", level: "silent" });

/** A local session stand-in recording what it is pushed. */
function member(tenantId: string, userId: string, id = `${userId}-conn`) {
  const typing: Typing[] = [];
  const presence: Presence[] = [];
  return { id, tenantId, userId, typing, presence, deliver: () => undefined, deliverTyping: (t: Typing) => typing.push(t), deliverPresence: (p: Presence) => presence.push(p) };
}

describe("typing relay", () => {
  it("pushes to the other members' sessions only, refuses non-members, limits the rate", async () => {
    const hub = new Hub();
    const relay = new TypingRelay({ pubsub: createMemoryPubSub(), limiter: createMemoryRateLimiter(), hub, clock: systemClock, logger, rule: { capacity: 2, refillPerSec: 0.001 } });
    const ann = member("t1", "ann");
    const ben = member("t1", "ben");
    const cal = member("t1", "cal");
    await hub.join(ann, async () => ["room"]);
    await hub.join(ben, async () => ["room"]);
    await hub.join(cal, async () => ["other"]);
    for (const m of [ann, ben, cal]) await relay.attach(m);

    const ok = await relay.set(ann, 1n, create(SetTypingSchema, { conversationId: "room", started: true }));
    expect(ok.frame.case).toBe("ack");
    await vi.waitFor(() => expect(ben.typing).toHaveLength(1));
    expect(ben.typing[0]).toMatchObject({ conversationId: "room", userId: "ann", started: true });
    expect(ann.typing).toEqual([]);
    expect(cal.typing).toEqual([]);

    expect((await relay.set(cal, 2n, create(SetTypingSchema, { conversationId: "room", started: true }))).frame).toMatchObject({ case: "error", value: { code: Code.NotFound } });
    expect((await relay.set(ann, 3n, create(SetTypingSchema, { conversationId: "room", started: false }))).frame.case).toBe("ack");
    const refused = await relay.set(ann, 4n, create(SetTypingSchema, { conversationId: "room", started: true }));
    expect(refused.frame).toMatchObject({ case: "error", value: { code: Code.ResourceExhausted } });
    expect(refused.frame.case === "error" && refused.frame.value.retryAfter).toBeTruthy();
  });
});

describe("presence tracker", () => {
  it("is online while any connection of the user lives, then offline with last seen; followers get changes once", async () => {
    const tracker = new PresenceTracker({ presence: createMemoryPresence(), pubsub: createMemoryPubSub(), logger, instanceId: "s1", ttlMs: 60_000 });
    const watcher = member("t1", "quinn");
    await tracker.online(watcher);
    const initial = await tracker.follow(watcher, ["pia"]);
    expect(initial.map((p) => p.status)).toEqual([PresenceStatus.OFFLINE]);

    const phone = member("t1", "pia", "phone");
    const laptop = member("t1", "pia", "laptop");
    await tracker.online(phone);
    await vi.waitFor(() => expect(watcher.presence.map((p) => p.status)).toEqual([PresenceStatus.ONLINE]));
    await tracker.online(laptop);
    await tracker.offline(phone);
    await new Promise((r) => setTimeout(r, 20));
    expect(watcher.presence.map((p) => p.status)).toEqual([PresenceStatus.ONLINE]);
    await tracker.offline(laptop);
    await vi.waitFor(() => expect(watcher.presence.map((p) => p.status)).toEqual([PresenceStatus.ONLINE, PresenceStatus.OFFLINE]));
    expect(watcher.presence[1]!.lastSeenTime).toBeDefined();

    await tracker.offline(watcher);
    await tracker.online(phone);
    await new Promise((r) => setTimeout(r, 20));
    expect(watcher.presence).toHaveLength(2);
  });
});
