#!/usr/bin/env node
// Lists the license of every component of a CycloneDX SBOM (tests/ci/sbom.sh) and fails on any
// that tests/ci/license-allowlist.json does not accept: each SPDX id must be allowed (either side
// of an OR, both sides of an AND), and a missing or non-SPDX license needs an entry naming the
// package, the license it was read as and why. The project's own workspace packages are skipped.
//
// Usage: node tests/ci/license-check.mjs <sbom.json> <allowlist.json> [listing.txt]
import { readFileSync, writeFileSync } from "node:fs";

const [sbomPath, allowlistPath, listingPath] = process.argv.slice(2);
if (!sbomPath || !allowlistPath) {
  console.error("usage: license-check.mjs <sbom.json> <allowlist.json> [listing.txt]");
  process.exit(1);
}
const sbom = JSON.parse(readFileSync(sbomPath, "utf8"));
const allowlist = JSON.parse(readFileSync(allowlistPath, "utf8"));
const allowed = new Set(allowlist.allowed ?? []);
const exceptions = allowlist.packages ?? [];
const problems = [];
for (const [i, e] of exceptions.entries()) {
  for (const field of ["package", "license", "reason"]) {
    if (typeof e?.[field] !== "string" || e[field].trim() === "") problems.push(`${allowlistPath} packages[${i}]: "${field}" is required`);
  }
}

/** The SBOM's license of a component as one expression ("" when it has none). */
function licenseOf(component) {
  return (component.licenses ?? [])
    .map((l) => l.expression ?? l.license?.id ?? l.license?.name ?? "")
    .filter(Boolean)
    .join(" AND ");
}

/** Whether an SPDX expression is satisfied by the allowed ids: any side of OR, every side of AND. */
function accepted(expression) {
  const e = expression
    .trim()
    .replace(/^\((.*)\)$/, "$1")
    .trim();
  if (e === "") return false;
  if (/[()]/.test(e)) return false; // nested expressions: list the package instead
  return e.split(/\s+OR\s+/).some((alt) => alt.split(/\s+AND\s+/).every((id) => allowed.has(id.trim())));
}

const isOwn = (c) => c.purl?.startsWith("pkg:npm/%40caas/") && (c.properties ?? []).some((p) => p.name === "cdx:npm:package:private" && p.value === "true");
const rows = [];
const counts = new Map();
const usedExceptions = new Set();
for (const c of sbom.components ?? []) {
  if (isOwn(c)) continue;
  const name = `${c.group ? `${c.group}/` : ""}${c.name}`;
  const license = licenseOf(c);
  const exception = exceptions.find((e) => e.package === name && (e.version === undefined || e.version === c.version));
  let verdict = "ok";
  if (exception) {
    usedExceptions.add(exception);
    verdict = `listed: ${exception.license}`;
  } else if (!accepted(license)) {
    verdict = "NOT ACCEPTED";
    problems.push(`${name}@${c.version}: license ${license === "" ? "missing" : JSON.stringify(license)} is not accepted`);
  }
  const shown = exception && license === "" ? exception.license : license || "(none)";
  counts.set(shown, (counts.get(shown) ?? 0) + 1);
  rows.push(`${name}@${c.version}\t${license || "(none)"}\t${verdict}`);
}
for (const e of exceptions) {
  if (!usedExceptions.has(e)) problems.push(`${allowlistPath}: ${e.package}${e.version ? `@${e.version}` : ""} is listed but not in the SBOM: remove the entry`);
}
if (listingPath) writeFileSync(listingPath, `${rows.sort().join("\n")}\n`);
const summary = [...counts]
  .sort((a, b) => b[1] - a[1])
  .map(([l, n]) => `${l} ${n}`)
  .join(", ");
console.log(`licenses: ${rows.length} runtime packages: ${summary}`);
for (const p of problems) console.error(`licenses: ${p}`);
process.exit(problems.length > 0 ? 1 : 0);
