import { create } from "@bufbuild/protobuf";
import { describe, expect, it, vi } from "vitest";
import { EventSchema } from "@caas/gen/caas/chat/v1/event_pb.js";
import { SeqOrder } from "../src/seq-order.js";

const ev = (conversationId: string, seq: bigint) => create(EventSchema, { conversationId, seq });

function recorder(holdMs = 50, maxTracked = 100) {
  const applied: string[] = [];
  const order = new SeqOrder((tenantId, e) => applied.push(`${tenantId}/${e.conversationId}:${e.seq}`), { holdMs, maxTracked });
  return { applied, order };
}

describe("SeqOrder", () => {
  it("applies interleaved relays in seq order and drops redeliveries", () => {
    const { applied, order } = recorder();
    for (const seq of [5n, 7n, 6n, 6n, 5n, 8n]) order.push("t1", ev("c1", seq));
    expect(applied).toEqual(["t1/c1:5", "t1/c1:6", "t1/c1:7", "t1/c1:8"]);
    order.close();
  });

  it("keeps tenants and conversations apart", () => {
    const { applied, order } = recorder();
    order.push("t1", ev("c1", 3n));
    order.push("t2", ev("c1", 9n));
    order.push("t1", ev("c2", 1n));
    expect(applied).toEqual(["t1/c1:3", "t2/c1:9", "t1/c2:1"]);
    order.close();
  });

  it("skips a gap that outlives the hold time, still in order", async () => {
    const { applied, order } = recorder(30);
    order.push("t1", ev("c1", 1n));
    order.push("t1", ev("c1", 4n));
    order.push("t1", ev("c1", 3n));
    expect(applied).toEqual(["t1/c1:1"]);
    await vi.waitFor(() => expect(applied).toEqual(["t1/c1:1", "t1/c1:3", "t1/c1:4"]), { timeout: 1_000 });
    order.push("t1", ev("c1", 2n));
    expect(applied).toHaveLength(3);
    order.close();
  });

  it("forgets the least recently active conversations past its bound", () => {
    const { applied, order } = recorder(50, 2);
    order.push("t1", ev("a", 5n));
    order.push("t1", ev("b", 5n));
    order.push("t1", ev("c", 5n));
    // "a" was forgotten: its next event sets a fresh position instead of waiting for seq 6.
    order.push("t1", ev("a", 9n));
    expect(applied).toEqual(["t1/a:5", "t1/b:5", "t1/c:5", "t1/a:9"]);
    order.close();
  });
});
