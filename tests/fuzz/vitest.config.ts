import { defineConfig } from "vitest/config";
import base from "../../vitest.config.js";

/**
 * The long RPC fuzzer run of CI (`npx vitest run --config tests/fuzz/vitest.config.ts` with
 * CAAS_FUZZ_CASES): the fuzzer starts its own embedded platform, so it takes none of the suite's
 * global setup (which would also start a whole cluster when the real servers are configured).
 */
export default defineConfig({
  ...base,
  test: { ...base.test, include: ["tests/fuzz/rpc-fuzz.test.ts"], globalSetup: [], maxWorkers: 1 },
});
