import { createRedisClient } from "@caas/shared/redis";
import { RUN_PREFIX, infraEnv } from "@caas/shared/testing";

/** The Redis of the cluster-adapter tests, or undefined (the suites skip, loudly; CI requires it). */
export const redisUrl = infraEnv("CAAS_REDIS_URL");

/** A key prefix of this run and this test file, so parallel files never share (or delete) keys. */
export const redisPrefix = (file: string) => `${RUN_PREFIX}:search:${file}`;

const glob = (s: string) => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

/** Deletes every key under `prefix` (after a file's tests). */
export async function cleanUp(prefix: string): Promise<void> {
  if (!redisUrl) return;
  const client = createRedisClient(redisUrl);
  try {
    await client.del(await client.scan(`${glob(prefix)}:*`));
  } finally {
    await client.close();
  }
}
