import { randomBytes } from "node:crypto";
import type { Clock } from "@caas/shared/clock";
import type { DataKeySource } from "@caas/shared/sealing/chat-events";
import type { DataKey } from "@caas/shared/sealing/box";
import type { Kms } from "@caas/shared/sealing/kms";
import { newId } from "@caas/shared/ids";
import type { DataKeyStore, StoredDataKey } from "./ports/data-key-store.js";

/** How long an instance keeps a tenant's current key id and unwrapped keys before reading the store again. */
export const KEY_CACHE_TTL_MS = 60_000;

/** What `wrapKey` binds a data key to: its tenant and id. */
function wrapContext(tenantId: string, keyId: string): string {
  return `data-key|${tenantId}|${keyId}`;
}

interface Cached<T> {
  value: Promise<T>;
  untilMs: number;
}

/** A read of one key's existence in the store, and the one queued behind it (see `confirm`). */
interface Check {
  running: Promise<boolean>;
  queued?: Promise<boolean>;
}

const ignore = () => undefined;

/**
 * The tenants' data keys as chat uses them (ADR 0120): a tenant's first key is made on its first
 * sealed write, rotation adds the next generation, shredding destroys them all. Keys are kept
 * unwrapped in memory for {@link KEY_CACHE_TTL_MS}, so a send costs no store read or unwrap once
 * its tenant's key is cached; another instance's rotation or shredding reaches this one within
 * that time (this instance's own at once). Writers close that window with `confirm`: a write
 * sealed under a key that another instance destroyed meanwhile is found before it is acknowledged.
 */
export class MessageKeyring implements DataKeySource {
  private readonly keys = new Map<string, Cached<DataKey | undefined>>();
  private readonly currents = new Map<string, Cached<DataKey>>();
  private readonly checks = new Map<string, Check>();

  constructor(private readonly deps: { store: DataKeyStore; kms: Kms; clock: Clock }) {}

  /** The key `keyId` of the tenant; undefined when it does not exist (destroyed). */
  key(tenantId: string, keyId: string): Promise<DataKey | undefined> {
    return this.cached(this.keys, `${tenantId}|${keyId}`, async () => {
      const stored = await this.deps.store.get(tenantId, keyId);
      return stored ? this.unwrap(stored) : undefined;
    });
  }

  /** The key new writes of the tenant are sealed with; made (generation 1) when the tenant has none. */
  current(tenantId: string): Promise<DataKey> {
    return this.cached(this.currents, tenantId, async () => {
      const stored = (await this.deps.store.current(tenantId)) ?? (await this.make(tenantId, 1));
      return this.unwrap(stored);
    });
  }

  /** Makes the tenant's next key its current one (on this instance at once) and returns it. */
  async rotate(tenantId: string): Promise<DataKey> {
    const latest = await this.deps.store.current(tenantId);
    const stored = await this.make(tenantId, (latest?.generation ?? 0) + 1);
    const key = this.unwrap(stored);
    this.currents.set(tenantId, { value: key, untilMs: this.deps.clock.nowMs() + KEY_CACHE_TTL_MS });
    return key;
  }

  /** Crypto-shredding: destroys every key of the tenant and forgets them here; how many were destroyed. */
  async shred(tenantId: string): Promise<number> {
    const destroyed = await this.deps.store.destroyAll(tenantId);
    this.forget(tenantId);
    return destroyed;
  }

  /**
   * Whether the key still exists in the store of record, read after this call began: a writer
   * calls it once its write under the key committed, and acknowledges the write only on true.
   * False means another instance shredded the tenant in the meantime: the write may be sealed
   * under a destroyed key, and every key of the tenant cached here is dropped. Reads are shared:
   * callers arriving while a read is in flight (which may have started before their commit) wait
   * for the next one, which serves them all, so concurrent writes of a tenant cost one read per
   * round trip rather than one each.
   */
  async confirm(tenantId: string, keyId: string): Promise<boolean> {
    const name = `${tenantId}|${keyId}`;
    const slot = this.checks.get(name);
    const exists = await (slot ? (slot.queued ??= slot.running.then(ignore, ignore).then(() => this.startCheck(name, tenantId, keyId))) : this.startCheck(name, tenantId, keyId));
    if (!exists) this.forget(tenantId);
    return exists;
  }

  private startCheck(name: string, tenantId: string, keyId: string): Promise<boolean> {
    const running = this.deps.store.get(tenantId, keyId).then((k) => k !== undefined);
    const slot: Check = { running };
    this.checks.set(name, slot);
    void running.then(ignore, ignore).then(() => {
      if (this.checks.get(name) === slot && !slot.queued) this.checks.delete(name);
    });
    return running;
  }

  /** Drops every key of the tenant cached here (the next use reads the store). */
  private forget(tenantId: string): void {
    this.currents.delete(tenantId);
    for (const name of [...this.keys.keys()]) if (name.startsWith(`${tenantId}|`)) this.keys.delete(name);
  }

  /** Stores a new key of `generation`; when another instance stored that generation first, its key. */
  private async make(tenantId: string, generation: number): Promise<StoredDataKey> {
    const keyId = newId();
    const stored: StoredDataKey = {
      tenantId,
      keyId,
      generation,
      wrapped: await this.deps.kms.wrapKey(randomBytes(32), wrapContext(tenantId, keyId)),
      kekId: this.deps.kms.kekId,
      createTimeMs: this.deps.clock.nowMs(),
    };
    if (await this.deps.store.insert(stored)) return stored;
    const winner = await this.deps.store.current(tenantId);
    if (!winner) throw new Error("a data key was made concurrently and destroyed at once; retry");
    return winner;
  }

  private async unwrap(stored: StoredDataKey): Promise<DataKey> {
    const bytes = await this.deps.kms.unwrapKey(stored.wrapped, wrapContext(stored.tenantId, stored.keyId));
    const key = { id: stored.keyId, bytes };
    this.keys.set(`${stored.tenantId}|${stored.keyId}`, { value: Promise.resolve(key), untilMs: this.deps.clock.nowMs() + KEY_CACHE_TTL_MS });
    return key;
  }

  /** A cached value, or `load` once for all callers waiting on it; failures are not cached. */
  private cached<T>(map: Map<string, Cached<T>>, name: string, load: () => Promise<T>): Promise<T> {
    const now = this.deps.clock.nowMs();
    const hit = map.get(name);
    if (hit && hit.untilMs > now) return hit.value;
    const value = load();
    map.set(name, { value, untilMs: now + KEY_CACHE_TTL_MS });
    value.catch(() => map.get(name)?.value === value && map.delete(name));
    if (map.size > 10_000) map.delete(map.keys().next().value!);
    return value;
  }
}
