import { createRedisClient, type RedisClient } from "../adapters/redis-client.js";
import { RUN_PREFIX, infraEnv } from "./infra.js";

/** The Redis of the cluster-adapter tests, or undefined (the suites skip, loudly; CI requires it). */
export const redisUrl = infraEnv("CAAS_REDIS_URL");

/** A key prefix of this run and this test file, so parallel files never share (or delete) keys. */
export const redisPrefix = (file: string) => `${RUN_PREFIX}:${file}`;

const glob = (s: string) => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

/** Every key under `prefix`. */
export async function keysUnder(client: RedisClient, prefix: string): Promise<string[]> {
  return client.scan(`${glob(prefix)}:*`);
}

/** Deletes every key under `prefix` (after a file's tests) and closes the client. */
export async function cleanUp(prefix: string): Promise<void> {
  if (!redisUrl) return;
  const client = createRedisClient(redisUrl);
  try {
    await client.del(await keysUnder(client, prefix));
  } finally {
    await client.close();
  }
}
