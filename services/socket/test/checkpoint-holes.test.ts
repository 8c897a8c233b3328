import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeClock } from "@caas/shared/clock";
import { create } from "@bufbuild/protobuf";
import { EventSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { Hub, type Recipient } from "../src/hub.js";
import { advance, MODEL_TENANT, ModelClient, ModelInstance, ModelLog, modelEvent } from "./support/realtime-model.js";

const FAKED = ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "setImmediate", "clearImmediate"] as const;

describe("cursors and the live path's holes", () => {
  beforeEach(() => vi.useFakeTimers({ toFake: [...FAKED] }));
  afterEach(async () => {
    // Session flushes are shared by every session of the process: let a pending one run.
    await vi.runOnlyPendingTimersAsync();
    vi.useRealTimers();
  });

  it("no checkpoint covers events a restarted instance's consumer went past before it was positioned", async () => {
    const clock = new FakeClock(Date.now());
    const log = new ModelLog(clock, ["c1"]);
    log.commit("c1");
    log.commit("c1");
    await advance(clock, 20_000);
    // The instance was just restarted: its new consumer group starts from the newest record once
    // it has joined, 3 s from now; the client reconnects at once and resumes.
    const instance = new ModelInstance(log, clock.nowMs() + 3_000);
    const client = new ModelClient("bob", log);
    await client.connect(instance);
    for (const wait of [1_000, 1_000]) {
      await advance(clock, wait);
      instance.consume(modelEvent(log.commit("c1")), clock.nowMs()); // seqs 3 and 4: published before the consumer is positioned
    }
    await advance(clock, 2_000);
    instance.consume(modelEvent(log.commit("c1")), clock.nowMs()); // seq 5: the first event this connection is pushed
    await advance(clock, 1);
    client.drain();
    await advance(clock, 15_000);
    await client.session!.checkpoint();
    await advance(clock, 1);
    client.drain();
    // The old checkpoint took the hub's head (5) as delivered and covered seqs 3 and 4.
    expect(client.overreaching()).toEqual([]);

    client.drop();
    await client.connect(instance);
    expect(client.missing()).toEqual([]);
    client.drop();
    instance.stop();
  });

  it("no checkpoint covers a gap SeqOrder gave up waiting for, even when the client filled it through Sync", async () => {
    const clock = new FakeClock(Date.now());
    const log = new ModelLog(clock, ["c1"]);
    const instance = new ModelInstance(log, clock.nowMs());
    const client = new ModelClient("bob", log);
    await client.connect(instance);
    instance.consume(modelEvent(log.commit("c1")), clock.nowMs());
    const late = log.commit("c1"); // seq 2 reaches the instance only after the hold
    instance.consume(modelEvent(log.commit("c1")), clock.nowMs());
    await advance(clock, 1_000);
    instance.consume(modelEvent(late), clock.nowMs()); // dropped: the position already moved past it
    await advance(clock, 1);
    client.drain();
    expect(client.missing()).toEqual([]); // the client saw 1 then 3 and asked Sync for 2
    await advance(clock, 15_000);
    await client.session!.checkpoint();
    await advance(clock, 1);
    client.drain();
    expect(client.overreaching()).toEqual([]);
    client.drop();
    instance.stop();
  });

  it("a connection that resumed after a hole gets checkpoints again", async () => {
    const clock = new FakeClock(Date.now());
    const log = new ModelLog(clock, ["c1"]);
    const instance = new ModelInstance(log, clock.nowMs());
    const first = new ModelClient("bob", log);
    await first.connect(instance);
    instance.consume(modelEvent(log.commit("c1")), clock.nowMs());
    log.commit("c1"); // seq 2 never reaches the instance
    instance.consume(modelEvent(log.commit("c1")), clock.nowMs());
    await advance(clock, 1_000);
    const second = new ModelClient("ann", log);
    await second.connect(instance); // its catch-up reads seqs 1-3 from the log
    instance.consume(modelEvent(log.commit("c1")), clock.nowMs());
    await advance(clock, 15_000);
    for (const c of [first, second]) {
      c.drain();
      await c.session!.checkpoint();
    }
    await advance(clock, 1);
    first.drain();
    second.drain();
    expect(first.cursors.map((r) => r.kind)).toEqual(["resumeDone"]);
    expect(second.cursors.map((r) => r.kind)).toEqual(["resumeDone", "checkpoint"]);
    expect([...first.overreaching(), ...second.overreaching()]).toEqual([]);
    first.drop();
    second.drop();
    instance.stop();
  });
  it("an instance that fills its holes from the log hands the skipped seqs out late, then checkpoints cover them", async () => {
    const clock = new FakeClock(Date.now());
    const log = new ModelLog(clock, ["c1"]);
    log.commit("c1");
    const instance = new ModelInstance(log, clock.nowMs() + 3_000, { fillHoles: true });
    const client = new ModelClient("bob", log);
    await client.connect(instance);
    await advance(clock, 1_000);
    instance.consume(modelEvent(log.commit("c1")), clock.nowMs()); // seq 2: before the consumer is positioned
    await advance(clock, 3_000);
    instance.consume(modelEvent(log.commit("c1")), clock.nowMs()); // seq 3: a hole at 2, read from the log
    await advance(clock, 1);
    client.drain();
    expect(client.missing(true)).toEqual([]);
    await advance(clock, 15_000);
    await client.session!.checkpoint();
    await advance(clock, 1);
    client.drain();
    expect(client.cursors.map((r) => r.kind)).toEqual(["resumeDone", "checkpoint"]);
    expect(client.overreaching()).toEqual([]);
    client.drop();
    instance.stop();
  });
  it("a fill does not apply the membership changes it carries, and a stretch that changed membership keeps its hole", async () => {
    const holes: bigint[][] = [];
    const hub = new Hub((_t, _c, from, to) => holes.push([from, to]));
    const got: bigint[] = [];
    const bob: Recipient = { tenantId: MODEL_TENANT, userId: "bob", accessToken: "bob", deliver: (e) => got.push(e.seq), deliverTyping: () => undefined };
    await hub.join(bob, async () => [{ id: "c1", type: 2, memberCount: 2, lastSeq: 1n }]);
    const left = create(EventSchema, { conversationId: "c1", seq: 2n, payload: { case: "memberLeft", value: { userId: "bob" } } });
    const joined = create(EventSchema, { conversationId: "c1", seq: 3n, payload: { case: "memberJoined", value: { member: { userId: "bob" } } } });
    hub.dispatch(MODEL_TENANT, joined); // bob left at 2 and joined again at 3; the live path skipped 2
    expect(holes).toEqual([[2n, 2n]]);
    hub.fill(MODEL_TENANT, "c1", [left]);
    expect(hub.isMember(MODEL_TENANT, "bob", "c1")).toBe(true);
    expect(got).toEqual([3n, 2n]);
    expect(hub.coverage(MODEL_TENANT, "c1")?.hole).toMatchObject({ to: 2n });
    hub.dispatch(MODEL_TENANT, modelEvent({ conversationId: "c1", seq: 5n })); // a hole at 4, filled with a message
    hub.fill(MODEL_TENANT, "c1", [modelEvent({ conversationId: "c1", seq: 4n })]);
    expect(hub.coverage(MODEL_TENANT, "c1")?.hole).toMatchObject({ to: 4n }); // the earlier stretch still holds it
  });
  it("no checkpoint after a failed resume: the connection never read what happened while it was away", async () => {
    const clock = new FakeClock(Date.now());
    const log = new ModelLog(clock, ["c1"]);
    log.commit("c1");
    const instance = new ModelInstance(log, clock.nowMs());
    const [bob, ann] = [new ModelClient("bob", log), new ModelClient("ann", log)];
    await bob.connect(instance);
    await ann.connect(instance);
    bob.drop();
    for (let i = 0; i < 2; i++) instance.consume(modelEvent(log.commit("c1")), clock.nowMs()); // seqs 2 and 3, bob away
    await advance(clock, 1_000);
    log.failChanges = 1;
    await bob.connect(instance); // opens, but its resume fails: nothing read 2 and 3
    instance.consume(modelEvent(log.commit("c1")), clock.nowMs()); // seq 4, pushed to bob
    await advance(clock, 15_000);
    bob.drain();
    await bob.session!.checkpoint();
    await advance(clock, 1);
    bob.drain();
    expect(bob.overreaching()).toEqual([]);
    expect(bob.cursors.filter((r) => r.kind === "checkpoint")).toEqual([]);
    await bob.resume(); // the client retries the resume; now it reads 2 and 3
    expect(bob.missing(true)).toEqual([]);
    bob.drop();
    ann.drop();
    instance.stop();
  });
});
