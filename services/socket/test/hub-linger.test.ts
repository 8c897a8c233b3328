import { create } from "@bufbuild/protobuf";
import { EventSchema, type Event } from "@caas/gen/caas/chat/v1/event_pb.js";
import { FakeClock } from "@caas/shared/clock";
import { describe, expect, it } from "vitest";
import { Hub, type Recipient } from "../src/hub.js";

const message = (conversationId: string, seq: bigint): Event =>
  create(EventSchema, { conversationId, seq, payload: { case: "messageCreated", value: { message: { id: `m${seq}`, text: `t${seq}` } } } });
const joined = (conversationId: string, seq: bigint, userId: string): Event => create(EventSchema, { conversationId, seq, payload: { case: "memberJoined", value: { member: { userId } } } });
const removed = (conversationId: string, seq: bigint, userId: string): Event => create(EventSchema, { conversationId, seq, payload: { case: "memberRemoved", value: { userId } } });

/** A recipient that records what it was handed as "conversation:seq". */
function recipient(userId: string, tenantId = "t1"): Recipient & { got: string[] } {
  const got: string[] = [];
  return { tenantId, userId, got, deliver: (e) => got.push(`${e.conversationId}:${e.seq}`), deliverTyping: () => undefined };
}

/** A membership list that counts how often it was asked for. */
function lister(ids: string[]) {
  const l = { calls: 0, load: async () => (l.calls++, ids) };
  return l;
}

describe("Hub: the membership index of a user whose last session left lingers", () => {
  it("a reconnect within the time loads nothing and sees the memberships the events changed meanwhile", async () => {
    const clock = new FakeClock();
    const hub = new Hub(undefined, { ms: 30_000, maxUsers: 100, clock });
    const list = lister(["c1", "c2"]);
    const first = recipient("ann");
    await hub.join(first, list.load);
    hub.leave(first);
    expect(hub.stats()).toMatchObject({ users: 1, lingering: 1 });
    // While away: added to c3, removed from c2 (the index follows the events, as while connected).
    hub.dispatch("t1", joined("c3", 2n, "ann"));
    hub.dispatch("t1", removed("c2", 2n, "ann"));
    clock.advance(29_000);
    const again = recipient("ann");
    await hub.join(again, list.load);
    expect(list.calls).toBe(1);
    expect(hub.stats().lingering).toBe(0);
    expect(hub.conversationsOf("t1", "ann").sort()).toEqual(["c1", "c3"]);
    for (const c of ["c1", "c2", "c3"]) hub.dispatch("t1", message(c, 5n));
    expect(again.got).toEqual(["c1:5", "c3:5"]);
    expect(first.got).toEqual([]);
  });

  it("after the time the list is loaded again, even before the timer swept the entry; the sweep drops it", async () => {
    const clock = new FakeClock();
    const hub = new Hub(undefined, { ms: 30_000, maxUsers: 100, clock });
    const list = lister(["c1"]);
    const a = recipient("ann");
    await hub.join(a, list.load);
    hub.leave(a);
    clock.advance(30_000);
    const b = recipient("ann");
    await hub.join(b, list.load);
    expect(list.calls).toBe(2);
    hub.dispatch("t1", message("c1", 3n));
    expect(b.got).toEqual(["c1:3"]);
    hub.leave(b);
    clock.advance(30_001);
    const lingering = (hub as unknown as { lingering: { sweep(): void } }).lingering;
    lingering.sweep();
    expect(hub.stats()).toEqual({ users: 0, lingering: 0, conversations: 0 });
  });

  it("keeps at most maxUsers without a session, the oldest out first; another tenant's user of the same id is another entry", async () => {
    const clock = new FakeClock();
    const hub = new Hub(undefined, { ms: 30_000, maxUsers: 2, clock });
    const lists = { ann: lister(["c1"]), bob: lister(["c1"]), cid: lister(["c1"]) };
    for (const u of ["ann", "bob", "cid"] as const) {
      const r = recipient(u);
      await hub.join(r, lists[u].load);
      hub.leave(r);
    }
    expect(hub.stats()).toMatchObject({ users: 2, lingering: 2 });
    for (const u of ["ann", "bob", "cid"] as const) await hub.join(recipient(u), lists[u].load);
    expect([lists.ann.calls, lists.bob.calls, lists.cid.calls]).toEqual([2, 1, 1]);
    const other = lister(["c9"]);
    const stranger = recipient("ann", "t2");
    await hub.join(stranger, other.load);
    expect(other.calls).toBe(1);
    hub.dispatch("t1", message("c1", 2n));
    expect(stranger.got).toEqual([]);
  });

  it("without a linger the entry goes with the last session and every first session loads", async () => {
    const hub = new Hub();
    const list = lister(["c1"]);
    const a = recipient("ann");
    await hub.join(a, list.load);
    hub.leave(a);
    expect(hub.stats()).toEqual({ users: 0, lingering: 0, conversations: 0 });
    await hub.join(recipient("ann"), list.load);
    expect(list.calls).toBe(2);
  });

  it("a list that fails leaves no lingering entry behind", async () => {
    const clock = new FakeClock();
    const hub = new Hub(undefined, { ms: 30_000, maxUsers: 100, clock });
    await expect(hub.join(recipient("ann"), () => Promise.reject(new Error("chat down")))).rejects.toThrow("chat down");
    expect(hub.stats()).toEqual({ users: 0, lingering: 0, conversations: 0 });
    const list = lister(["c1"]);
    await hub.join(recipient("ann"), list.load);
    expect(list.calls).toBe(1);
  });
});
