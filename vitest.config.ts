import { readFileSync, readdirSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const root = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/**
 * Tests run the TypeScript sources of the workspace packages, so unit tests need no build: every
 * subpath a package exports maps to the file its "source" condition names (tsconfig.test.json
 * reads the same condition through `customConditions`).
 */
function workspaceAliases(): { find: RegExp; replacement: string }[] {
  const aliases: { find: RegExp; replacement: string }[] = [];
  for (const dir of readdirSync(root("./services"))) {
    const manifest = root(`./services/${dir}/package.json`);
    if (!existsSync(manifest)) continue;
    const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { name: string; exports?: Record<string, { source?: string } | string> };
    for (const [sub, target] of Object.entries(pkg.exports ?? {})) {
      if (typeof target !== "object" || !target.source) continue;
      const specifier = sub === "." ? pkg.name : `${pkg.name}/${sub.slice(2)}`;
      const escaped = specifier.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
      aliases.push({ find: new RegExp(`^${escaped}$`), replacement: root(`./services/${dir}/${target.source.slice(2)}`) });
    }
  }
  return aliases;
}

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@caas\/client$/, replacement: root("./sdks/ts/src/node.ts") },
      { find: /^@caas\/client\/browser$/, replacement: root("./sdks/ts/src/browser.ts") },
      { find: /^@caas\/gen\/(.*)\.js$/, replacement: root("./gen/es/$1.ts") },
      ...workspaceAliases(),
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
