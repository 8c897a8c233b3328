import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../support/spawn-platform.js";

/** The Go module of the generated Go SDK (ADR 0057). */
const GO_MODULE = "github.com/caas-dev/caas/sdks/go";

function protoFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? protoFiles(join(dir, e.name)) : e.name.endsWith(".proto") ? [join(dir, e.name)] : []));
}

describe("proto language options", () => {
  it("every contract under proto/caas names its Go package after its proto package (caas.<domain>.vN -> gen/caas/<domain>/vN;<domain>vN)", () => {
    const files = protoFiles(join(repoRoot, "proto/caas"));
    expect(files.length).toBeGreaterThan(0);
    const wrong: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      const pkg = /^package caas\.([a-z0-9_]+)\.(v\d+);$/m.exec(text);
      const go = /^option go_package = "([^"]+)";$/m.exec(text)?.[1];
      const want = pkg ? `${GO_MODULE}/gen/caas/${pkg[1]}/${pkg[2]};${pkg[1]!.replace(/_/g, "")}${pkg[2]}` : "(a caas.<domain>.vN package)";
      if (go !== want) wrong.push(`${relative(repoRoot, file)}: go_package ${JSON.stringify(go)}, want ${JSON.stringify(want)}`);
    }
    expect(wrong).toEqual([]);
  });
});
