import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../support/spawn-platform.js";

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? markdownFiles(join(dir, e.name)) : e.name.endsWith(".md") ? [join(dir, e.name)] : [],
  );
}

/** The text outside fenced code blocks: links inside examples are not links. */
const prose = (md: string) => md.replace(/^```[^\n]*\n[\s\S]*?^```[^\n]*$/gm, "");

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
const slug = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\- _]/gu, "").replace(/ /g, "-");

function anchors(file: string): Set<string> {
  return new Set([...prose(readFileSync(file, "utf8")).matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
}

const files = [join(repoRoot, "README.md"), join(repoRoot, "BENCHMARKS.md"), ...markdownFiles(join(repoRoot, "docs"))];

describe("links in the docs", () => {
  it.each(files.map((f) => relative(repoRoot, f)))("%s links only to files and headings that exist", (file) => {
    const abs = join(repoRoot, file);
    const broken: string[] = [];
    for (const [, target] of prose(readFileSync(abs, "utf8")).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target!)) continue; // http:, https:, mailto:
      const [path, anchor] = target!.split("#") as [string, string | undefined];
      const resolved = path === "" ? abs : join(dirname(abs), decodeURIComponent(path));
      if (!existsSync(resolved)) broken.push(`${target} (no such file)`);
      else if (anchor && statSync(resolved).isFile() && resolved.endsWith(".md") && !anchors(resolved).has(anchor)) {
        broken.push(`${target} (no heading #${anchor})`);
      }
    }
    expect(broken).toEqual([]);
  });
});
