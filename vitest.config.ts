import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const root = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run the TypeScript sources of the workspace packages: no build needed for unit tests.
    alias: [
      { find: /^@caas\/client$/, replacement: root("./sdks/ts/src/node.ts") },
      { find: /^@caas\/client\/browser$/, replacement: root("./sdks/ts/src/browser.ts") },
      { find: /^@caas\/gen\/(.*)\.js$/, replacement: root("./gen/es/$1.ts") },
      { find: /^@caas\/([a-z-]+)\/testing$/, replacement: root("./services/$1/src/testing/index.ts") },
      { find: /^@caas\/([a-z-]+)$/, replacement: root("./services/$1/src/index.ts") },
    ],
  },
  test: {
    include: ["services/*/test/**/*.test.ts", "sdks/ts/test/**/*.test.ts", "tests/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**", "tests/bench/**"],
    globalSetup: ["tests/setup/global-setup.ts"],
    // Two cores: at most two workers (DESIGN "Tests on 2 cores").
    maxWorkers: 2,
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 120_000,
    reporters: ["default"],
  },
});
