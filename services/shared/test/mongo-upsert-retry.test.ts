import { describe, expect, it } from "vitest";
import { upsertRetryingOnce } from "../src/adapters/mongo-errors.js";

const duplicateKey = Object.assign(new Error("E11000 duplicate key error"), { code: 11000 });

describe("upsertRetryingOnce", () => {
  it("runs the upsert again once when it lost the insert race (duplicate key), and returns the second result", async () => {
    let calls = 0;
    const result = await upsertRetryingOnce(async () => {
      calls++;
      if (calls === 1) throw duplicateKey;
      return "updated";
    });
    expect({ result, calls }).toEqual({ result: "updated", calls: 2 });
  });

  it("passes any other error on at once, and a second duplicate key too", async () => {
    let calls = 0;
    await expect(
      upsertRetryingOnce(async () => {
        calls++;
        throw new Error("network");
      }),
    ).rejects.toThrow("network");
    expect(calls).toBe(1);
    await expect(upsertRetryingOnce(() => Promise.reject(duplicateKey))).rejects.toBe(duplicateKey);
  });
});
