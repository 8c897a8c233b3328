/**
 * Small platform-wide values the auth service creates once and then only reads: the hash of the
 * generated platform-admin credential, and (cluster mode without a keyring file) the keyring.
 */
export interface AuthStateStore {
  /** The value stored under `name`, if any. */
  get(name: string): Promise<string | undefined>;

  /**
   * Stores `value` under `name` unless a value is there already, and returns the stored value:
   * of several concurrent callers (instances starting at once), all get the first one's value.
   */
  putIfAbsent(name: string, value: string, nowMs: number): Promise<string>;

  close(): Promise<void>;
}
