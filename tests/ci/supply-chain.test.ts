import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../support/spawn-platform.js";

const dir = mkdtempSync(join(tmpdir(), "caas-supply-chain-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(content: unknown): string {
  const path = join(dir, `f${n++}.json`);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}
function run(script: string, args: string[], stdin = "") {
  const r = spawnSync(process.execPath, [join(repoRoot, "tests/ci", script), ...args], { cwd: repoRoot, input: stdin, encoding: "utf8" });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** An `npm audit --json` report (npm 7+ format) with one advisory on `pkg`. */
function auditReport(severity: string, pkg = "lodash", url = "https://github.com/advisories/GHSA-abcd-efgh-ijkl") {
  return JSON.stringify({
    auditReportVersion: 2,
    vulnerabilities: {
      [pkg]: { name: pkg, severity, via: [{ source: 1001, name: pkg, title: "Prototype pollution", url, severity, range: "<4.17.21" }] },
      dependent: { name: "dependent", severity, via: [pkg] },
    },
    metadata: { vulnerabilities: { info: 0, low: 0, moderate: 0, high: 1, critical: 0, total: 1 } },
  });
}
const allow = (advisories: unknown[]) => file({ advisories });
const entry = { id: "GHSA-abcd-efgh-ijkl", package: "lodash", reason: "the affected function is not called", expires: "2027-01-31" };

describe("audit check (tests/ci/audit-check.mjs)", () => {
  it("fails on a high or critical advisory that is not allowlisted", () => {
    for (const severity of ["high", "critical"]) {
      const r = run("audit-check.mjs", [allow([]), "2026-12-01"], auditReport(severity));
      expect(r.code).toBe(1);
      expect(r.out).toContain(`BLOCKING ${severity} GHSA-abcd-efgh-ijkl in lodash`);
    }
  });
  it("passes moderate and low advisories", () => {
    expect(run("audit-check.mjs", [allow([]), "2026-12-01"], auditReport("moderate")).code).toBe(0);
  });
  it("accepts an allowlisted advisory until its expiry date, then fails", () => {
    const list = allow([entry]);
    const ok = run("audit-check.mjs", [list, "2027-01-31"], auditReport("critical"));
    expect(ok.code).toBe(0);
    expect(ok.out).toContain("accepted critical GHSA-abcd-efgh-ijkl");
    const late = run("audit-check.mjs", [list, "2027-02-01"], auditReport("critical"));
    expect(late.code).toBe(1);
    expect(late.out).toContain("expired on 2027-01-31");
  });
  it("an entry for another package does not accept the advisory", () => {
    expect(run("audit-check.mjs", [allow([{ ...entry, package: "other" }]), "2026-12-01"], auditReport("high")).code).toBe(1);
  });
  it("rejects an entry without a reason or with a malformed date", () => {
    expect(run("audit-check.mjs", [allow([{ ...entry, reason: "" }]), "2026-12-01"], auditReport("low")).out).toContain('"reason" is required');
    expect(run("audit-check.mjs", [allow([{ ...entry, expires: "soon" }]), "2026-12-01"], auditReport("low")).code).toBe(1);
  });
  it("exits 3 when npm audit gave no report, 1 if the allowlist is also expired", () => {
    const refused = JSON.stringify({ message: "405 Method Not Allowed - POST .../advisories/bulk", error: { summary: "" } });
    const r = run("audit-check.mjs", [allow([]), "2026-12-01"], refused);
    expect(r.code).toBe(3);
    expect(r.out).toContain("NO ADVISORY REPORT");
    expect(run("audit-check.mjs", [allow([entry]), "2027-06-01"], refused).code).toBe(1);
  });
  it("the committed allowlist is well formed and unexpired", () => {
    const r = run("audit-check.mjs", [join(repoRoot, "tests/ci/audit-allowlist.json")], auditReport("low"));
    expect(r.code).toBe(0);
  });
});

/** A CycloneDX SBOM with the given components. */
const bom = (components: unknown[]) => file({ bomFormat: "CycloneDX", specVersion: "1.5", components });
const comp = (name: string, version: string, licenses: unknown[]) => ({
  type: "library",
  name,
  version,
  purl: `pkg:npm/${encodeURIComponent(name)}@${version}`,
  licenses,
});

describe("license check (tests/ci/license-check.mjs)", () => {
  const list = file({
    allowed: ["MIT", "Apache-2.0"],
    packages: [{ package: "legacy", version: "1.0.0", license: "Public Domain", reason: "legacy license field" }],
  });
  const legacy = comp("legacy", "1.0.0", []);
  it("accepts allowed ids and OR expressions with one allowed side, and a listed package", () => {
    const sbom = bom([comp("a", "1.0.0", [{ license: { id: "MIT" } }]), comp("b", "1.0.0", [{ expression: "(MIT OR WTFPL)" }]), legacy]);
    const r = run("license-check.mjs", [sbom, list]);
    expect(r.out).toContain("licenses: 3 runtime packages");
    expect(r.code).toBe(0);
  });
  it("fails on a license not allowed, on AND with one side not allowed and on a missing license", () => {
    const sbom = bom([comp("gpl", "1.0.0", [{ license: { id: "GPL-3.0-only" } }]), comp("both", "1.0.0", [{ expression: "MIT AND GPL-2.0-only" }]), comp("none", "2.0.0", []), legacy]);
    const r = run("license-check.mjs", [sbom, list]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('gpl@1.0.0: license "GPL-3.0-only" is not accepted');
    expect(r.out).toContain("both@1.0.0");
    expect(r.out).toContain("none@2.0.0: license missing is not accepted");
  });
  it("fails on a listed package that is no longer in the SBOM", () => {
    const r = run("license-check.mjs", [bom([comp("a", "1.0.0", [{ license: { id: "MIT" } }])]), list]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("legacy@1.0.0 is listed but not in the SBOM");
  });
  it("writes the listing", () => {
    const listing = join(dir, "licenses.tsv");
    run("license-check.mjs", [bom([comp("a", "1.0.0", [{ license: { id: "MIT" } }]), legacy]), list, listing]);
    expect(readFileSync(listing, "utf8")).toBe("a@1.0.0\tMIT\tok\nlegacy@1.0.0\t(none)\tlisted: Public Domain\n");
  });
});

describe("SBOM check (tests/ci/sbom-check.mjs) against this repository's lockfile", () => {
  const lock = JSON.parse(readFileSync(join(repoRoot, "package-lock.json"), "utf8")) as {
    packages: Record<string, { name?: string; version?: string; dev?: boolean; link?: boolean }>;
  };
  const runtime = Object.entries(lock.packages)
    .filter(([where, e]) => where.startsWith("node_modules/") && !e.dev && !e.link && e.version)
    // An aliased install (string-width-cjs) lies under its alias and names the real package.
    .map(([where, e]) => comp(e.name ?? where.slice(where.lastIndexOf("node_modules/") + 13), e.version!, []));
  it("accepts the lockfile's runtime packages", () => {
    const r = run("sbom-check.mjs", [bom(runtime)]);
    const declared = Object.keys((JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies).length;
    expect(r.out).toContain(`all ${declared} runtime dependencies at their locked versions`);
    expect(r.code).toBe(0);
  });
  it("fails when a runtime dependency is missing, a development-only package is listed, or the file is not CycloneDX", () => {
    const missing = run("sbom-check.mjs", [bom(runtime.filter((c) => c.name !== "@bufbuild/protobuf"))]);
    expect(missing.code).toBe(1);
    expect(missing.out).toContain("runtime dependency @bufbuild/protobuf@2.13.0 missing");
    const vitest = lock.packages["node_modules/vitest"]!.version!;
    const dev = run("sbom-check.mjs", [bom([...runtime, comp("vitest", vitest, [])])]);
    expect(dev.code).toBe(1);
    expect(dev.out).toContain(`vitest@${vitest} is not a runtime package`);
    expect(run("sbom-check.mjs", [file({ bomFormat: "SPDX", components: runtime })]).code).toBe(1);
    expect(run("sbom-check.mjs", [file("not json")]).code).toBe(1);
  });
});
