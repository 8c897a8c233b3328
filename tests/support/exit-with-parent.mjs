// Runs a command and ends it when this process's stdin closes, i.e. when the test runner that
// spawned us is gone (even after SIGKILL), so no platform process outlives its test run.
// Usage: node exit-with-parent.mjs <command> [args...]; exits with the command's exit code.
import { spawn } from "node:child_process";

const [cmd, ...args] = process.argv.slice(2);
const child = spawn(cmd, args, { stdio: ["ignore", "inherit", "inherit"] });
const stop = (signal) => {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
};
process.stdin.on("end", () => stop("SIGTERM"));
process.stdin.on("error", () => stop("SIGTERM"));
process.stdin.resume();
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => stop(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
