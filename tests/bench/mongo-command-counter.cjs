// Preloaded (--require) into each cluster-mode service process of a benchmark: counts the
// commands every MongoDB client of the process sends (the driver's command monitoring, one
// `commandStarted` per round trip to the server) by command name, and rewrites them as one JSON
// object to $CAAS_BENCH_MONGO_COUNTS every 200 ms, so the benchmark can divide the round trips
// of a load phase by its acked sends. The service code is not changed: the preload turns command
// monitoring on at connect. The ESM import of `mongodb` shares this CommonJS module instance.
const { renameSync, writeFileSync } = require("node:fs");
const { MongoClient } = require("mongodb");

const file = process.env.CAAS_BENCH_MONGO_COUNTS;
if (file) {
  const counts = {};
  let changed = true;
  const connect = MongoClient.prototype.connect;
  MongoClient.prototype.connect = function (...args) {
    if (!this.monitorCommands) {
      this.monitorCommands = true;
      this.on("commandStarted", (e) => {
        counts[e.commandName] = (counts[e.commandName] ?? 0) + 1;
        changed = true;
      });
    }
    return connect.apply(this, args);
  };
  setInterval(() => {
    if (!changed) return;
    changed = false;
    // Written aside and renamed: a reader never sees a half-written file.
    writeFileSync(`${file}.tmp`, JSON.stringify(counts));
    renameSync(`${file}.tmp`, file);
  }, 200).unref();
}
