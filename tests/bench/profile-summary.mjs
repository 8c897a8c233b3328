// Summarises a V8 .cpuprofile: the functions with the most self time, the most inclusive time,
// and each sample charged to the nearest frame of our own code on its stack (services/*/src or
// dist, gen/), so library time is seen from the code that called it.
// Usage: node tests/bench/profile-summary.mjs <file.cpuprofile> [self rows=30] [inclusive rows=40] [ours rows=40]
import { readFileSync } from "node:fs";

const p = JSON.parse(readFileSync(process.argv[2], "utf8"));
const [selfRows, inclRows, oursRows] = [3, 4, 5].map((i, k) => Number(process.argv[i] ?? [30, 40, 40][k]));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const timeOf = new Map();
let total = 0;
for (let i = 0; i < p.samples.length; i++) {
  const dt = p.timeDeltas[i] ?? 0;
  timeOf.set(p.samples[i], (timeOf.get(p.samples[i]) ?? 0) + dt);
  total += dt;
}
const where = (n) => n.callFrame.url.replace(/.*\/(services|node_modules|gen)\//, "$1/");
const key = (n) => `${n.callFrame.functionName || "(anonymous)"} ${where(n)}:${n.callFrame.lineNumber + 1}`;
const ours = (n) => /\/(services\/[^/]+\/(src|dist)|gen)\//.test(n.callFrame.url) && !n.callFrame.url.includes("node_modules");
const self = new Map();
const incl = new Map();
const nearest = new Map();
const add = (m, k, t) => m.set(k, (m.get(k) ?? 0) + t);
for (const [id, t] of timeOf) {
  const leaf = byId.get(id);
  add(self, key(leaf), t);
  const seen = new Set();
  let charged = false;
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const n = byId.get(cur);
    const k = key(n);
    if (!seen.has(k)) {
      seen.add(k);
      add(incl, k, t);
    }
    if (!charged && ours(n)) {
      add(nearest, k, t);
      charged = true;
    }
  }
  if (!charged) add(nearest, `(no frame of ours) ${leaf.callFrame.functionName || where(leaf) || "(program)"}`, t);
}
const top = (m, n) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, t]) => `${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`)
    .join("\n");
console.log(`profile: ${(total / 1e6).toFixed(2)} s sampled`);
console.log("--- self\n" + top(self, selfRows));
console.log("--- inclusive\n" + top(incl, inclRows));
console.log("--- charged to the nearest frame of our code\n" + top(nearest, oursRows));
