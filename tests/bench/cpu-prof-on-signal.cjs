// Preloaded into a benchmarked server: SIGTTIN starts the V8 CPU profiler, the next SIGTTIN stops
// it and writes the profile to $CAAS_BENCH_PROFILE_DIR/<pid>-<n>.cpuprofile (open it in Chrome
// DevTools or summarise it with tests/bench/profile-summary.mjs). Unlike --cpu-prof, the profile
// covers only the window the bench chooses (a storm, not the set-up before it).
// CAAS_BENCH_PROFILE_INTERVAL_US sets the sampling interval (default 500 µs).
const { writeFileSync } = require("node:fs");
const { join } = require("node:path");
const inspector = require("node:inspector");

const session = new inspector.Session();
session.connect();
let running = false;
let n = 0;
process.on("SIGTTIN", () => {
  if (!running) {
    running = true;
    session.post("Profiler.enable", () => session.post("Profiler.setSamplingInterval", { interval: Number(process.env.CAAS_BENCH_PROFILE_INTERVAL_US ?? 500) }, () => session.post("Profiler.start")));
    return;
  }
  running = false;
  session.post("Profiler.stop", (err, res) => {
    if (err) return;
    writeFileSync(join(process.env.CAAS_BENCH_PROFILE_DIR ?? ".", `${process.pid}-${n++}.cpuprofile`), JSON.stringify(res.profile));
  });
});
