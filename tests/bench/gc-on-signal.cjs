// Preloaded into a benchmarked server (with --expose-gc): SIGUSR2 runs a full garbage collection
// and appends the process's memory use after it, as one JSON line, to $CAAS_BENCH_MEMORY_FILE, so
// a memory reading can separate what the server holds from garbage it has not collected yet. The
// line also has the size of each V8 heap space just before that collection (`spacesKiB`): the
// young generation's semi-spaces grow under a burst of allocation and count in RSS; and, per
// space, what is used and what is resident before and after it (`spaces`: KiB used / physical),
// and how long the collection took (`gcMs`).
const { appendFileSync } = require("node:fs");
const v8 = require("node:v8");
const spaces = () => Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, [Math.round(s.space_used_size / 1024), Math.round(s.physical_space_size / 1024)]]));
process.on("SIGUSR2", () => {
  const spacesKiB = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, Math.round(s.space_size / 1024)]));
  const before = { ...process.memoryUsage(), spaces: spaces() };
  const t0 = performance.now();
  global.gc?.();
  const gcMs = Number((performance.now() - t0).toFixed(1));
  const file = process.env.CAAS_BENCH_MEMORY_FILE;
  if (file) appendFileSync(file, `${JSON.stringify({ ...process.memoryUsage(), spacesKiB, gcMs, before, spacesAfter: spaces() })}\n`);
});
