// Preloaded into a benchmarked server (with --expose-gc): SIGUSR2 runs a full garbage collection
// and appends the process's memory use after it, as one JSON line, to $CAAS_BENCH_MEMORY_FILE, so
// a memory reading can separate what the server holds from garbage it has not collected yet.
const { appendFileSync } = require("node:fs");
process.on("SIGUSR2", () => {
  global.gc?.();
  const file = process.env.CAAS_BENCH_MEMORY_FILE;
  if (file) appendFileSync(file, `${JSON.stringify(process.memoryUsage())}\n`);
});
