type AbortListener = (this: unknown, event: Event) => void;

/**
 * The server's shutdown signal as connect's handler contexts use it, with its listeners in a Set.
 * Every call in progress links its context's signal to the server's shutdown signal until it
 * ends (connect's `createLinkedAbortController`: one `addEventListener` and one
 * `removeEventListener` per call). On Node's AbortSignal both scan every listener (an EventTarget
 * refuses duplicates): measured 2.6 µs per call with no other call in progress, 83 µs with 10,000
 * (realtime streams held open) and 318 µs with 50,000, paid by every call and stream open of an
 * instance holding many streams. Here both are O(1).
 *
 * It is not an AbortSignal: it has only what connect and the logging interceptor read (`aborted`,
 * `reason`, `addEventListener`/`removeEventListener` for "abort" with function listeners), and
 * `asAbortSignal()` hands it to them under that type. Listeners are called once, in the order
 * added, with the signal as `this`, as an EventTarget calls them.
 */
export class ShutdownSignal {
  aborted = false;
  reason: unknown = undefined;
  private readonly listeners = new Set<AbortListener>();

  addEventListener(type: string, listener: AbortListener | null): void {
    if (type === "abort" && typeof listener === "function" && !this.aborted) this.listeners.add(listener);
  }

  removeEventListener(type: string, listener: AbortListener | null): void {
    if (type === "abort" && typeof listener === "function") this.listeners.delete(listener);
  }

  /** Aborts (once): every listener is called with an "abort" event. */
  abort(reason: unknown = new DOMException("This operation was aborted", "AbortError")): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const event = new Event("abort");
    const listeners = [...this.listeners];
    this.listeners.clear();
    for (const l of listeners) l.call(this, event);
  }

  /** Listeners waiting (calls in progress linked to it). */
  get listenerCount(): number {
    return this.listeners.size;
  }

  /** This signal under the type connect's handler options and the logging interceptor take. */
  asAbortSignal(): AbortSignal {
    return this as unknown as AbortSignal;
  }
}
