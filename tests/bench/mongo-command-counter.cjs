// Preloaded (--require) into each cluster-mode service process of a benchmark: counts the
// commands every MongoDB client of the process sends (the driver's command monitoring, one
// `commandStarted` per round trip to the server) by command name, and times them by command and
// collection (the driver's `duration` of each `commandSucceeded`/`commandFailed`: from sending
// the command to its reply, in ms). Every 200 ms it rewrites one JSON object to
// $CAAS_BENCH_MONGO_COUNTS:
//   { "counts": { "<command>": n, ... },
//     "targets": { "<command> <collection>": { "n": done, "ms": total, "failed": n }, ... } }
// so the benchmark can divide the round trips and the store time of a load phase by its acked
// sends. The service code is not changed: the preload turns command monitoring on at connect.
// The ESM import of `mongodb` shares this CommonJS module instance.
const { renameSync, writeFileSync } = require("node:fs");
const { MongoClient } = require("mongodb");

/** The collection a command works on: its first field's value (find, insert, update, ...), getMore's `collection`. */
function collectionOf(commandName, command) {
  if (commandName === "getMore") return String(command?.collection ?? "?");
  const value = command?.[commandName];
  return typeof value === "string" ? value : "-";
}

const file = process.env.CAAS_BENCH_MONGO_COUNTS;
if (file) {
  const counts = {};
  const targets = {};
  /** Started commands by client and request id, until their reply. */
  const started = new Map();
  let changed = true;
  const connect = MongoClient.prototype.connect;
  MongoClient.prototype.connect = function (...args) {
    if (!this.monitorCommands) {
      this.monitorCommands = true;
      const client = this;
      const done = (e, failed) => {
        const key = `${e.requestId}`;
        const target = started.get(client)?.get(key);
        if (target === undefined) return;
        started.get(client).delete(key);
        const t = (targets[target] ??= { n: 0, ms: 0, failed: 0 });
        t.n++;
        t.ms += e.duration;
        if (failed) t.failed++;
        changed = true;
      };
      started.set(client, new Map());
      this.on("commandStarted", (e) => {
        counts[e.commandName] = (counts[e.commandName] ?? 0) + 1;
        started.get(client).set(`${e.requestId}`, `${e.commandName} ${collectionOf(e.commandName, e.command)}`);
        changed = true;
      });
      this.on("commandSucceeded", (e) => done(e, false));
      this.on("commandFailed", (e) => done(e, true));
    }
    return connect.apply(this, args);
  };
  setInterval(() => {
    if (!changed) return;
    changed = false;
    // Written aside and renamed: a reader never sees a half-written file.
    writeFileSync(`${file}.tmp`, JSON.stringify({ counts, targets }));
    renameSync(`${file}.tmp`, file);
  }, 200).unref();
}
