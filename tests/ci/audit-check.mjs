#!/usr/bin/env node
// Reads `npm audit --json` output on stdin and fails on high or critical advisories that the
// allowlist does not accept. The allowlist is checked first and on its own: an entry past its
// expiry date fails even when the advisory endpoint cannot be reached, so an accepted risk is
// looked at again when it said it would be.
//
// Usage: npm audit --omit=dev --json | node tests/ci/audit-check.mjs <allowlist.json> [today]
// Exit codes: 0 clean, 1 findings or a bad/expired allowlist, 3 no audit report (endpoint
// unreachable or refused): the caller decides whether that is fatal.
import { readFileSync } from "node:fs";

const BLOCKING = new Set(["high", "critical"]);
const [allowlistPath, todayArg] = process.argv.slice(2);
if (!allowlistPath) {
  console.error("usage: audit-check.mjs <allowlist.json> [YYYY-MM-DD] < npm-audit.json");
  process.exit(1);
}
const today = todayArg ?? new Date().toISOString().slice(0, 10);

/** Entries must name the advisory, the package, why it is accepted and until when. */
function loadAllowlist(path) {
  const problems = [];
  let entries;
  try {
    entries = JSON.parse(readFileSync(path, "utf8")).advisories;
  } catch (err) {
    return { entries: [], problems: [`${path}: ${err.message}`] };
  }
  if (!Array.isArray(entries)) return { entries: [], problems: [`${path}: "advisories" must be an array`] };
  entries.forEach((e, i) => {
    const where = `${path} advisories[${i}]`;
    for (const field of ["id", "package", "reason", "expires"]) {
      if (typeof e?.[field] !== "string" || e[field].trim() === "") problems.push(`${where}: "${field}" is required`);
    }
    if (typeof e?.expires === "string" && !/^\d{4}-\d{2}-\d{2}$/.test(e.expires)) {
      problems.push(`${where}: "expires" must be YYYY-MM-DD, got ${JSON.stringify(e.expires)}`);
    } else if (typeof e?.expires === "string" && e.expires < today) {
      problems.push(`${where}: ${e.id} (${e.package}) expired on ${e.expires}: review it, then renew or remove the entry`);
    }
  });
  return { entries, problems };
}

/** The advisory id npm shows: the GHSA id from its URL, else the registry's numeric source. */
function advisoryId(via) {
  return /GHSA-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}/i.exec(via.url ?? "")?.[0] ?? String(via.source);
}

const { entries, problems } = loadAllowlist(allowlistPath);
for (const p of problems) console.error(`audit: ${p}`);

const input = readFileSync(0, "utf8");
let report;
try {
  report = JSON.parse(input);
} catch {
  report = undefined;
}
if (!report || typeof report.vulnerabilities !== "object" || report.vulnerabilities === null) {
  const why = report?.error?.summary || report?.message || input.slice(0, 300) || "(empty output)";
  console.error(`audit: NO ADVISORY REPORT: npm audit did not return one (${why})`);
  process.exit(problems.length > 0 ? 1 : 3);
}

const findings = [];
const accepted = [];
for (const [pkg, vuln] of Object.entries(report.vulnerabilities)) {
  // String entries in `via` point at another package's entry, which carries the advisory itself.
  for (const via of vuln.via ?? []) {
    if (typeof via !== "object" || !BLOCKING.has(via.severity)) continue;
    const id = advisoryId(via);
    const name = via.name ?? pkg;
    const line = `${via.severity} ${id} in ${name} ${via.range ?? ""}: ${via.title ?? ""} ${via.url ?? ""}`.replace(/\s+/g, " ").trim();
    const entry = entries.find((e) => e.id === id && e.package === name);
    (entry && entry.expires >= today ? accepted : findings).push(entry ? `${line} (accepted until ${entry.expires}: ${entry.reason})` : line);
  }
}
const counts = report.metadata?.vulnerabilities ?? {};
console.log(`audit: ${counts.total ?? 0} advisories in runtime dependencies (critical ${counts.critical ?? 0}, high ${counts.high ?? 0}, moderate ${counts.moderate ?? 0}, low ${counts.low ?? 0})`);
for (const a of [...new Set(accepted)]) console.log(`audit: accepted ${a}`);
for (const f of [...new Set(findings)]) console.error(`audit: BLOCKING ${f}`);
process.exit(findings.length > 0 || problems.length > 0 ? 1 : 0);
