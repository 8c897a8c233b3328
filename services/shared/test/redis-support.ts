export { cleanUp, keysUnder, redisPrefix, redisUrl } from "@caas/shared/testing/redis";
