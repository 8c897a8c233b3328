import { describe, expect, it } from "vitest";
import { createLinkedAbortController } from "@connectrpc/connect/protocol";
import { ShutdownSignal } from "../src/server/shutdown-signal.js";

describe("the server's shutdown signal", () => {
  it("links connect's handler contexts as an AbortSignal does: a call that ends unlinks itself, shutdown aborts the calls in progress with its reason", () => {
    const shutdown = new ShutdownSignal();
    // What connect does for each call: a controller linked to the deadline, the request and the shutdown.
    const calls = Array.from({ length: 1000 }, () => createLinkedAbortController(new AbortController().signal, shutdown.asAbortSignal()));
    expect(shutdown.listenerCount).toBe(1000);
    // 600 calls end (connect aborts their context when they finish): each removes its listener.
    for (const c of calls.slice(0, 600)) c.abort();
    expect(shutdown.listenerCount).toBe(400);
    const reason = new Error("stopping");
    shutdown.abort(reason);
    expect(calls.slice(600).every((c) => c.signal.aborted && c.signal.reason === reason)).toBe(true);
    expect(shutdown.listenerCount).toBe(0);
    // A call that starts after the shutdown is aborted at once.
    expect(createLinkedAbortController(shutdown.asAbortSignal()).signal.reason).toBe(reason);
  });

  it("calls each listener once, with the signal as this, and ignores a second abort", () => {
    const shutdown = new ShutdownSignal();
    const seen: unknown[] = [];
    const listener = function (this: unknown, e: Event) {
      seen.push([this, e.type]);
    };
    shutdown.addEventListener("abort", listener);
    shutdown.addEventListener("abort", listener);
    const removed = () => seen.push("removed");
    shutdown.addEventListener("abort", removed);
    shutdown.removeEventListener("abort", removed);
    shutdown.abort();
    shutdown.abort(new Error("again"));
    expect(seen).toEqual([[shutdown, "abort"]]);
    expect(shutdown.reason).toBeInstanceOf(DOMException);
  });
});
