import { Code, ConnectError } from "@connectrpc/connect";
import { expect } from "vitest";

/** The Connect code a call failed with (domain errors carry one too); fails the test when it succeeded. */
export async function failure(p: Promise<unknown>): Promise<{ code: Code; message: string }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ConnectError) return { code: err.code, message: err.rawMessage };
    const code = (err as { code?: unknown }).code;
    if (typeof code === "number") return { code, message: (err as Error).message };
    throw err;
  }
  expect.fail("the call succeeded but should have failed");
}

/** Asserts the call fails with `code`. */
export async function expectCode(p: Promise<unknown>, code: Code): Promise<void> {
  const f = await failure(p);
  expect(Code[f.code], f.message).toBe(Code[code]);
}
