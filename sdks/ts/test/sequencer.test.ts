import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { backoffDelay, MAX_POSITIONS, Sequencer, type Event } from "@caas/client";
import { EventSchema } from "../src/gen/caas/chat/v1/event_pb.js";

const ev = (conversationId: string, seq: number): Event => create(EventSchema, { conversationId, seq: BigInt(seq) });
const seqs = (list: Event[]) => list.map((e) => `${e.conversationId}:${e.seq}`);

describe("Sequencer", () => {
  it("reports the last delivered seq per conversation as resume positions, most recently advanced first, at most the limit", () => {
    const s = new Sequencer(
      () => undefined,
      async () => ({ events: [], hasMore: false }),
      () => undefined,
    );
    s.push(ev("a", 1));
    s.push(ev("b", 1));
    s.push(ev("a", 2));
    s.push(ev("c", 4)); // first sight of c
    s.push(ev("c", 6)); // held behind a gap: not delivered, not held by the client yet
    s.seed("d", 9n);
    const at = (list: { conversationId: string; seq: bigint }[]) => list.map((p) => `${p.conversationId}:${p.seq}`);
    expect(at(s.positions())).toEqual(["d:9", "c:4", "a:2", "b:1"]);
    expect(at(s.positions(2))).toEqual(["d:9", "c:4"]);
    for (let i = 0; i < MAX_POSITIONS + 10; i++) s.seed(`x${i}`, 1n);
    expect(s.positions()).toHaveLength(MAX_POSITIONS);
  });

  it("delivers each (conversation, seq) once and in order, filling a gap through Sync", async () => {
    const out: Event[] = [];
    const syncCalls: string[] = [];
    const log = [1, 2, 3, 4, 5, 6].map((n) => ev("a", n));
    const s = new Sequencer(
      (e) => out.push(e),
      async (conv, after) => {
        syncCalls.push(`${conv}>${after}`);
        return { events: log.filter((e) => e.seq > after).slice(0, 2), hasMore: log.some((e) => e.seq > after + 2n) };
      },
      (_c, err) => {
        throw err;
      },
    );
    s.seed("a", 1n);
    s.push(ev("a", 2));
    s.push(ev("a", 2)); // repeat of a live frame
    s.push(ev("b", 7)); // first sight of b: its baseline
    s.push(ev("a", 6)); // gap 3..5
    s.push(ev("b", 8));
    await new Promise((r) => setTimeout(r, 10));
    s.push(ev("a", 4)); // overlap from a resume
    expect(seqs(out)).toEqual(["a:2", "b:7", "b:8", "a:3", "a:4", "a:5", "a:6"]);
    expect(syncCalls[0]).toBe("a>2");
    expect(s.lastSeq("a")).toBe(6n);
  });

  it("keeps what it holds and retries when Sync fails", async () => {
    const out: Event[] = [];
    const errors: unknown[] = [];
    let fail = true;
    const s = new Sequencer(
      (e) => out.push(e),
      async (_conv, after) => {
        if (fail) {
          fail = false;
          throw new Error("unavailable");
        }
        return { events: [ev("a", Number(after) + 1)], hasMore: false };
      },
      (_c, err) => errors.push(err),
      5,
    );
    s.seed("a", 1n);
    s.push(ev("a", 3));
    await new Promise((r) => setTimeout(r, 50));
    expect(errors).toHaveLength(1);
    expect(seqs(out)).toEqual(["a:2", "a:3"]);
  });
});

describe("backoffDelay", () => {
  it("grows exponentially with jitter in [bound/2, bound], capped, never below retry_after", () => {
    expect(backoffDelay(0, {}, 0, () => 0)).toBe(250);
    expect(backoffDelay(0, {}, 0, () => 1)).toBe(500);
    expect(backoffDelay(3, {}, 0, () => 1)).toBe(4000);
    expect(backoffDelay(20, { maxMs: 30_000 }, 0, () => 1)).toBe(30_000);
    expect(backoffDelay(0, {}, 5000, () => 0.5)).toBe(5000);
  });
});
