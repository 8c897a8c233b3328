import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { outputLikeComments, parseGuide, runGuide } from "../support/guide-runner.js";
import { repoRoot, spawnEmbeddedPlatform } from "../support/spawn-platform.js";

const guideDir = join(repoRoot, "docs/guide");
const guides = readdirSync(guideDir)
  .filter((f) => f.endsWith(".md"))
  .sort()
  .map((f) => ({ file: `docs/guide/${f}`, steps: parseGuide(readFileSync(join(guideDir, f), "utf8")) }))
  .concat([{ file: "README.md", steps: parseGuide(readFileSync(join(repoRoot, "README.md"), "utf8")) }])
  .filter((g) => g.steps.length > 0);

/**
 * Every guide, and the first-message example of the README, runs as a reader would run it: its shell blocks in order in one bash, against a
 * platform of its own (the compiled platform `npm start` runs, on free ports, fresh data directory). The
 * guides name their addresses with defaults (`GATEWAY=${GATEWAY:-http://127.0.0.1:3000}`) and
 * read the platform-admin credential from the data directory, as a newcomer does; the test sets
 * those variables to the fresh platform. Conventions: docs/testing.md "Guides".
 */
describe("docs/guide", () => {
  it("has guides to run", () => {
    expect(guides.map((g) => g.file)).toEqual(expect.arrayContaining(["README.md", "docs/guide/calling.md", "docs/guide/identity.md", "docs/guide/chat.md", "docs/guide/media.md", "docs/guide/realtime.md", "docs/guide/sdk-typescript.md", "docs/guide/sdk-go.md", "docs/guide/sdk-python.md"]));
  });

  it("finds the tools the guides use (CI installs them in .ci/run)", () => {
    const missing = ["bash", "curl", "jq", "npx"].filter((t) => spawnSync("bash", ["-c", `command -v ${t}`]).status !== 0);
    expect(missing).toEqual([]);
  });

  it.each(guides)("$file shows outputs in text blocks, where they are checked, not in comments", ({ steps }) => {
    expect(outputLikeComments(steps)).toEqual([]);
  });

  it.each(guides)("$file runs as written", async ({ steps }) => {
    const platform = await spawnEmbeddedPlatform();
    try {
      const { endpoints, dataDir } = platform.info;
      const failure = await runGuide(steps, {
        cwd: repoRoot,
        env: {
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? "",
          LANG: "C.UTF-8",
          npm_config_update_notifier: "false",
          GATEWAY: endpoints.gateway!,
          AUTH: endpoints.auth!,
          SOCKET: endpoints.socket!,
          CAAS_DATA_DIR: dataDir,
        },
        // A first `go run` or `pip install` of an SDK guide compiles or downloads its dependencies.
        stepTimeoutMs: 240_000,
      });
      if (failure) {
        expect.fail(`step at line ${failure.line}: ${failure.reason}\n--- script\n${failure.script}\n--- output\n${failure.output}`);
      }
    } finally {
      await platform.stop();
    }
  }, 600_000);
});
