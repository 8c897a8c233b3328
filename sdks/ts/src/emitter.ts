/** A small typed event emitter (browsers have no node:events). */
export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<(value: never) => void>>();

  /** Calls `fn` for every `type` event; returns a function that stops it. */
  on<K extends keyof Events>(type: K, fn: (value: Events[K]) => void): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  /** Resolves with the next `type` event that passes `pred`. */
  next<K extends keyof Events>(type: K, pred: (value: Events[K]) => boolean = () => true): Promise<Events[K]> {
    return new Promise((resolve) => {
      const off = this.on(type, (v) => {
        if (!pred(v)) return;
        off();
        resolve(v);
      });
    });
  }

  protected emit<K extends keyof Events>(type: K, value: Events[K]): void {
    for (const fn of [...(this.listeners.get(type) ?? [])]) {
      try {
        (fn as (value: Events[K]) => void)(value);
      } catch (err) {
        // A listener's bug must not break delivery to the others or the connection.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
