import { createHash } from "node:crypto";
import { Redis } from "ioredis";

/*
 * The only file that imports ioredis. The Redis adapters see the narrow `RedisClient` below, so
 * the client library can change (or be faked) in one place.
 */

/** A Lua script with its SHA1, run with EVALSHA (falling back to EVAL when the server lacks it). */
export interface LuaScript {
  readonly source: string;
  readonly sha1: string;
}

/** Defines a Lua script once, at module load; the SHA1 is what EVALSHA sends. */
export function defineScript(source: string): LuaScript {
  return { source, sha1: createHash("sha1").update(source).digest("hex") };
}

/** A connection in subscriber mode (Redis needs a dedicated connection for SUBSCRIBE). */
export interface RedisSubscriber {
  /** Resolves once the server confirmed the subscription. */
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /** Every message of every subscribed channel, in the order the server sent them. */
  onMessage(listener: (channel: string, message: Buffer) => void): void;
  close(): Promise<void>;
}

/** The Redis commands the adapters use, and nothing else. */
export interface RedisClient {
  get(key: string): Promise<string | null>;
  mget(keys: readonly string[]): Promise<(string | null)[]>;
  /** SET with a millisecond TTL (PX). */
  setPx(key: string, value: string, ttlMs: number): Promise<void>;
  /** Deletes keys; returns how many existed. */
  del(keys: readonly string[]): Promise<number>;
  /** HGETALL of several keys in one round trip (one pipeline), in order; a missing key is `{}`. */
  hgetallMany(keys: readonly string[]): Promise<Record<string, string>[]>;
  /**
   * Runs a script atomically: EVALSHA, and on NOSCRIPT (a restarted or flushed server) EVAL,
   * which also caches the script for the next EVALSHA.
   */
  runScript(script: LuaScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
  /** Returns how many subscribers received the message. */
  publish(channel: string, message: Uint8Array): Promise<number>;
  /** Every key matching a glob pattern (SCAN, so it does not block the server). For tests and tooling. */
  scan(match: string): Promise<string[]>;
  /** Opens a separate connection for subscriptions, with the same address and options. */
  createSubscriber(): RedisSubscriber;
  /** Closes the connection after pending replies arrived. Idempotent. */
  close(): Promise<void>;
}

export interface RedisClientOptions {
  /** CLIENT SETNAME, to tell connections apart on the server (e.g. `socket-1`). */
  connectionName?: string;
  /** Connection errors (ioredis reconnects on its own). Default: ignored, commands still fail. */
  onError?: (err: Error) => void;
}

/** Creates a client for `url` (`redis://[user:pass@]host:port[/db]`); it connects in the background. */
export function createRedisClient(url: string, options: RedisClientOptions = {}): RedisClient {
  const redis = newConnection(url, options);
  return {
    get: (key) => redis.get(key),
    mget: (keys) => (keys.length === 0 ? Promise.resolve([]) : redis.mget([...keys])),
    async setPx(key, value, ttlMs) {
      await redis.set(key, value, "PX", ttlMs);
    },
    del: (keys) => (keys.length === 0 ? Promise.resolve(0) : redis.del([...keys])),
    async hgetallMany(keys) {
      if (keys.length === 0) return [];
      const pipeline = redis.pipeline();
      for (const key of keys) pipeline.hgetall(key);
      const replies = (await pipeline.exec()) ?? [];
      return replies.map(([err, value]) => {
        if (err) throw err;
        return value as Record<string, string>;
      });
    },
    async runScript(script, keys, args) {
      try {
        return await redis.evalsha(script.sha1, keys.length, ...keys, ...args);
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
        return await redis.eval(script.source, keys.length, ...keys, ...args);
      }
    },
    publish: (channel, message) => redis.publish(channel, Buffer.from(message)),
    async scan(match) {
      const keys: string[] = [];
      let cursor = "0";
      do {
        const [next, batch] = await redis.scan(cursor, "MATCH", match, "COUNT", 1000);
        keys.push(...batch);
        cursor = next;
      } while (cursor !== "0");
      return keys;
    },
    createSubscriber: () => createSubscriber(url, options),
    close: () => closeConnection(redis),
  };
}

function newConnection(url: string, options: RedisClientOptions): Redis {
  const redis = new Redis(url, {
    ...(options.connectionName ? { connectionName: options.connectionName } : {}),
    // Fail a command after a few reconnect attempts instead of queueing it for long: callers
    // (caches, presence, limits) would rather see an error than hang a request.
    maxRetriesPerRequest: 3,
  });
  // Without a listener ioredis drops connection errors silently; they also fail the commands.
  redis.on("error", (err: Error) => options.onError?.(err));
  return redis;
}

function createSubscriber(url: string, options: RedisClientOptions): RedisSubscriber {
  const redis = newConnection(url, {
    ...options,
    ...(options.connectionName ? { connectionName: `${options.connectionName}-sub` } : {}),
  });
  return {
    async subscribe(channel) {
      await redis.subscribe(channel);
    },
    async unsubscribe(channel) {
      await redis.unsubscribe(channel);
    },
    onMessage(listener) {
      redis.on("messageBuffer", (channel: Buffer, message: Buffer) => listener(channel.toString(), message));
    },
    close: () => closeConnection(redis),
  };
}

async function closeConnection(redis: Redis): Promise<void> {
  if (redis.status === "end") return;
  if (redis.status !== "ready") {
    // Not connected (yet, or any more): nothing to flush, drop the socket and stop reconnecting.
    redis.disconnect();
    return;
  }
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
