import { defineConfig } from "vitest/config";
import base from "../../vitest.config.js";

/**
 * The soak runs alone (`npx vitest run --config tests/soak/vitest.config.ts`): it starts and
 * kills its own platform, so it takes none of the suite's global setup and runs one file at a time.
 */
export default defineConfig({
  ...base,
  test: { ...base.test, include: ["tests/soak/**/*.soak.ts"], globalSetup: [], maxWorkers: 1, testTimeout: 7_200_000, hookTimeout: 300_000 },
});
