import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { applied } from "../src/bus/kafkajs-idle-timer.js";

const require = createRequire(import.meta.url);
type Queue = { checkPendingRequests(): void; destroy(): void; throttleCheckTimeoutId: unknown; pending: unknown[]; throttledUntil: number };
const RequestQueue = require("kafkajs/src/network/requestQueue/index.js") as new (opts: Record<string, unknown>) => Queue;
const logger = { debug() {}, info() {}, warn() {}, error() {} };
const queue = () =>
  new RequestQueue({ instrumentationEmitter: null, maxInFlightRequests: 1, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: "t", broker: "b:1", logger, isConnected: () => true });

describe("kafkajs idle check loop", () => {
  it("is turned off: an idle request queue schedules no timer after checking its queue", () => {
    expect(applied).toBe(true);
    const q = queue();
    q.checkPendingRequests();
    expect(q.throttleCheckTimeoutId).toBeNull();
    q.destroy();
  });

  it("still schedules a check while a request is pending or the broker throttles the client", () => {
    const q = queue();
    q.pending.push({});
    (q as unknown as { scheduleCheckPendingRequests(): void }).scheduleCheckPendingRequests();
    expect(q.throttleCheckTimeoutId).not.toBeNull();
    q.destroy();
    const t = queue();
    t.throttledUntil = Date.now() + 5_000;
    (t as unknown as { scheduleCheckPendingRequests(): void }).scheduleCheckPendingRequests();
    expect(t.throttleCheckTimeoutId).not.toBeNull();
    t.destroy();
  });
});
