// Compares two V8 heap snapshots (e.g. before and after N idle connections, see
// CAAS_BENCH_HEAP_SNAPSHOTS in realtime.bench.mjs): objects counted and their own (shallow)
// sizes summed by kind and constructor, the difference of the two, largest first, and per
// connection when N is given. Shallow sizes only: a Map's entries are in its backing store's row.
// Usage: node tests/bench/heap-diff.mjs <before.heapsnapshot> <after.heapsnapshot> [connections] [rows=40]
import { readFileSync } from "node:fs";

function tally(file) {
  const snap = JSON.parse(readFileSync(file, "utf8"));
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [iType, iName, iSize] = ["type", "name", "self_size"].map((f) => fields.indexOf(f));
  const out = new Map();
  const nodes = snap.nodes;
  for (let i = 0; i < nodes.length; i += fields.length) {
    const type = types[nodes[i + iType]];
    // Strings and code by kind; objects by constructor name.
    const name = type === "object" || type === "closure" || type === "native" ? `${type} ${snap.strings[nodes[i + iName]]}` : type;
    const t = out.get(name) ?? { count: 0, bytes: 0 };
    t.count++;
    t.bytes += nodes[i + iSize];
    out.set(name, t);
  }
  return out;
}

const [before, after] = [tally(process.argv[2]), tally(process.argv[3])];
const n = Number(process.argv[4] ?? 0);
const rows = Number(process.argv[5] ?? 40);
const diff = [...after].map(([k, a]) => {
  const b = before.get(k) ?? { count: 0, bytes: 0 };
  return { k, count: a.count - b.count, bytes: a.bytes - b.bytes };
});
diff.sort((x, y) => y.bytes - x.bytes);
const total = diff.reduce((s, d) => s + d.bytes, 0);
console.log(`total shallow growth ${(total / 1024 / 1024).toFixed(1)} MiB${n ? `, ${(total / n).toFixed(0)} B per connection` : ""}`);
for (const d of diff.slice(0, rows))
  console.log(`${String(d.bytes).padStart(12)} B  ${String(d.count).padStart(9)}  ${n ? `${(d.bytes / n).toFixed(0).padStart(6)} B/conn ${(d.count / n).toFixed(2).padStart(6)}/conn  ` : ""}${d.k}`);
