/**
 * Small platform-level values of the chat service shared by all its instances (the page token
 * secret). Not tenant data.
 */
export interface ChatStateStore {
  /**
   * Stores `value` under `name` unless a value is there; returns the stored value either way, so
   * concurrent first starts of several instances agree on one.
   */
  putIfAbsent(name: string, value: string, nowMs: number): Promise<string>;

  close(): Promise<void>;
}
