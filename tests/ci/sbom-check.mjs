#!/usr/bin/env node
// Checks a CycloneDX SBOM written by `npm sbom --sbom-format cyclonedx --omit dev`: valid JSON of
// the expected format, every runtime dependency of package.json present at its locked version,
// and nothing in it that the lockfile does not hold as a runtime package (development-only ones included) (the image prunes them: Dockerfile `npm prune --omit=dev`).
//
// Usage: node tests/ci/sbom-check.mjs <sbom.json>   (run from the repository root)
import { readFileSync } from "node:fs";

const path = process.argv[2];
if (!path) {
  console.error("usage: sbom-check.mjs <sbom.json>");
  process.exit(1);
}
const problems = [];
let sbom;
try {
  sbom = JSON.parse(readFileSync(path, "utf8"));
} catch (err) {
  console.error(`sbom: ${path} is not readable JSON: ${err.message}`);
  process.exit(1);
}
if (sbom.bomFormat !== "CycloneDX") problems.push(`bomFormat is ${JSON.stringify(sbom.bomFormat)}, want "CycloneDX"`);
if (!/^1\.\d+$/.test(String(sbom.specVersion))) problems.push(`specVersion is ${JSON.stringify(sbom.specVersion)}, want 1.x`);
const components = Array.isArray(sbom.components) ? sbom.components : [];
if (components.length === 0) problems.push("no components");

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const lock = JSON.parse(readFileSync("package-lock.json", "utf8"));
const byName = new Map();
for (const c of components) {
  const name = c.group ? `${c.group}/${c.name}` : c.name;
  for (const key of [name, /^pkg:npm\/(.+)@[^@]+$/.exec(decodeURIComponent(c.purl ?? ""))?.[1]]) {
    if (key) byName.set(key, [...(byName.get(key) ?? []), c.version]);
  }
}
for (const dep of Object.keys(pkg.dependencies ?? {})) {
  const locked = lock.packages?.[`node_modules/${dep}`]?.version;
  const found = byName.get(dep) ?? [];
  if (!found.includes(locked)) problems.push(`runtime dependency ${dep}@${locked} missing (found ${found.join(", ") || "none"})`);
}
// Only what the lockfile marks as development-only must be absent: a devDependency that a runtime
// package also needs (@grpc/grpc-js, @types/node) is in the image and rightly listed.
const runtimeLocked = new Set();
for (const [where, entry] of Object.entries(lock.packages ?? {})) {
  const name = entry.name ?? where.slice(where.lastIndexOf("node_modules/") + "node_modules/".length);
  if (!entry.dev && entry.version) runtimeLocked.add(`${name}@${entry.version}`);
}
for (const c of components) {
  const id = `${c.group ? `${c.group}/` : ""}${c.name}@${c.version}`;
  const fromPurl = /^pkg:npm\/(.+@[^@]+)$/.exec(decodeURIComponent(c.purl ?? ""))?.[1];
  if (!runtimeLocked.has(id) && !(fromPurl && runtimeLocked.has(fromPurl))) problems.push(`${fromPurl ?? id} is not a runtime package of package-lock.json`);
}
for (const p of problems) console.error(`sbom: ${p}`);
if (problems.length > 0) process.exit(1);
console.log(`sbom: ${path}: CycloneDX ${sbom.specVersion}, ${components.length} components, all ${Object.keys(pkg.dependencies ?? {}).length} runtime dependencies at their locked versions`);
