import { createRequire } from "node:module";

/**
 * kafkajs 2.2.4 keeps a 1 ms timer running on every broker connection forever: after each check
 * of its pending-request queue it schedules the next check at `throttledUntil - Date.now()`,
 * which is a large negative number when nothing is throttled (Node runs it after 1 ms, and Node
 * 24 warns `TimeoutNegativeWarning`). Measured here: an idle bus with three consumers used 2.4 %
 * of a core, 0.6 % without the loop (tulios/kafkajs#1556, #1751; the fix is unreleased). This
 * replaces that one method so a check is scheduled only when there is something to wait for: a
 * pending request or a client-side throttle. A request that finishes still checks the queue
 * itself, as before. kafkajs is pinned in package.json; if a release moves the method, the fix
 * is not applied and `applied` says so (a test checks it).
 */
interface RequestQueueLike {
  pending: unknown[];
  throttledUntil: number;
  scheduleCheckPendingRequests: (this: RequestQueueLike) => void;
}

const require = createRequire(import.meta.url);

function apply(): boolean {
  let RequestQueue: { prototype: RequestQueueLike } | undefined;
  try {
    RequestQueue = require("kafkajs/src/network/requestQueue/index.js") as { prototype: RequestQueueLike };
  } catch {
    return false;
  }
  const original = RequestQueue.prototype.scheduleCheckPendingRequests;
  if (typeof original !== "function") return false;
  RequestQueue.prototype.scheduleCheckPendingRequests = function (this: RequestQueueLike) {
    if (this.pending.length === 0 && !(this.throttledUntil > Date.now())) return;
    original.call(this);
  };
  return true;
}

/** Whether kafkajs's idle check loop was turned off (false: the library changed shape). */
export const applied: boolean = apply();
