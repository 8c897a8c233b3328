import { describe, expect, it } from "vitest";
import { checkLedger, quantile, seqProblem, type LoggedEvent, type SendRecord } from "./ledger.js";

const send = (clientMessageId: string, ack?: [string, number]): SendRecord => ({
  conversationId: "c",
  clientMessageId,
  senderId: "u",
  attempts: 1,
  failures: [],
  conflictingAcks: 0,
  abandoned: false,
  firstAttemptAt: 0,
  ...(ack ? { ack: { messageId: ack[0], seq: BigInt(ack[1]), at: 1 } } : {}),
});
const msg = (seq: number, id: string, clientMessageId: string): LoggedEvent => ({ seq: BigInt(seq), message: { id, clientMessageId, senderId: "u" } });

describe("the soak ledger's checks", () => {
  it("passes a dense log holding every acknowledged message once and a subscriber with every event", () => {
    const logs = new Map([["c", [{ seq: 1n }, msg(2, "m1", "a"), msg(3, "m2", "b")]]]);
    const v = checkLedger([send("a", ["m1", 2]), send("b", ["m2", 3])], logs, [{ name: "s", conversations: ["c"], deliveries: new Map([["c", { seqs: [1n, 2n, 3n, 3n], outOfOrder: 0 }]]) }]);
    expect(v).toMatchObject({ acked: 2, lostAcks: [], duplicatedAcks: [], duplicateClientIds: [], seqGaps: [] });
    expect(v.subscribers).toEqual([{ name: "s", expected: 3, delivered: 4, missing: 0, duplicates: 1, duplicateRatio: 0.25, outOfOrder: 0, missingSample: [] }]);
  });

  it("finds a lost acknowledgement, one acknowledged with another seq, a duplicated message and a gap", () => {
    const logs = new Map([["c", [{ seq: 1n }, msg(2, "m1", "a"), msg(4, "m1b", "a"), msg(5, "m3", "c")]]]);
    const v = checkLedger([send("a", ["m1", 2]), send("b", ["m2", 3]), send("c", ["m3", 6])], logs, []);
    expect(v.lostAcks).toEqual(["b (ack seq 3)", "c (ack seq 6)"]);
    expect(v.duplicatedAcks).toEqual(["a"]);
    expect(v.duplicateClientIds).toEqual(["c u a"]);
    expect(v.seqGaps).toEqual([{ conversationId: "c", detail: "position 2 holds seq 4, expected 3 (of 4)" }]);
  });

  it("counts the events a subscriber never received, in conversations it never heard of too", () => {
    const logs = new Map([
      ["c", [{ seq: 1n }, { seq: 2n }, { seq: 3n }]],
      ["d", [{ seq: 1n }]],
    ]);
    const v = checkLedger([], logs, [{ name: "s", conversations: ["c", "d"], deliveries: new Map([["c", { seqs: [1n, 3n], outOfOrder: 1 }]]) }]);
    expect(v.subscribers[0]).toMatchObject({ expected: 4, missing: 2, outOfOrder: 1, missingSample: ["c:2", "d:1"] });
  });

  it("reads dense logs and quantiles", () => {
    expect(seqProblem([1n, 2n, 3n])).toBeUndefined();
    expect(seqProblem([2n])).toBe("position 0 holds seq 2, expected 1 (of 1)");
    expect(quantile([5, 1, 3, 2, 4], 0.5)).toBe(3);
    expect(quantile([5, 1, 3, 2, 4], 1)).toBe(5);
  });
});
