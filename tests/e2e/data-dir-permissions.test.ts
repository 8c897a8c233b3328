import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";

const platform = inject("embedded");

/** Every path under `dir` (files and directories), depth first. */
function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? [path, ...walk(path)] : [path];
  });
}

const mode = (path: string) => statSync(path).mode & 0o777;

describe("embedded data directory on a fresh start", () => {
  it("is owner-only: the directory 0700 and every file in it 0600", () => {
    expect(mode(platform.dataDir).toString(8)).toBe("700");
    const entries = walk(platform.dataDir);
    const names = entries.map((p) => p.slice(platform.dataDir.length + 1));
    for (const db of ["auth.db", "chat.db", "bus.db", "media.db"]) expect(names).toContain(db);
    const loose = entries
      .map((p) => ({ path: p.slice(platform.dataDir.length + 1), mode: mode(p), dir: statSync(p).isDirectory() }))
      .filter((e) => e.mode !== (e.dir ? 0o700 : 0o600))
      .map((e) => `${e.path} ${e.mode.toString(8)}`);
    expect(loose).toEqual([]);
  });
});
