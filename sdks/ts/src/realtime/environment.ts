// What the session needs from its surroundings, in browsers and Node alike.

/** A random client_message_id (crypto.randomUUID needs a secure context; this does not). */
export function randomId(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Calls `offline`/`online` on the browser's network events; does nothing elsewhere. */
export function watchNetwork(offline: () => void, online: () => void): () => void {
  const g = globalThis as { addEventListener?: (t: string, f: () => void) => void; removeEventListener?: (t: string, f: () => void) => void };
  if (typeof g.addEventListener !== "function" || typeof g.removeEventListener !== "function") return () => undefined;
  g.addEventListener("offline", offline);
  g.addEventListener("online", online);
  return () => {
    g.removeEventListener?.("offline", offline);
    g.removeEventListener?.("online", online);
  };
}
