// What the benchmarks share: core pinning, quantiles, and the compiled embedded platform started
// as its own process (pinned to core 0) on free ports with a fresh data directory.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** taskset works and there is more than one core (CAAS_BENCH_NO_TASKSET turns pinning off). */
export const haveTaskset = process.env.CAAS_BENCH_NO_TASKSET
  ? false
  : (() => {
      try {
        execFileSync("taskset", ["-c", "0", "true"]);
        return cpus().length > 1;
      } catch {
        return false;
      }
    })();

/** Runs `args` with node, pinned to `core` when taskset is available (taskset execs: same pid). */
export function pinned(core, args, opts) {
  return haveTaskset ? spawn("taskset", ["-c", String(core), process.execPath, ...args], opts) : spawn(process.execPath, args, opts);
}

/** Count, p50 and p99 of `values` (milliseconds, two decimals). */
export function quantiles(values) {
  const v = Float64Array.from(values).sort();
  const q = (p) => (v.length === 0 ? NaN : Number(v[Math.min(v.length - 1, Math.floor(p * v.length))].toFixed(2)));
  return { n: v.length, p50: q(0.5), p99: q(0.99) };
}

/**
 * Starts `node services/platform/dist/main.js` in embedded mode pinned to core 0; resolves once it
 * logged "platform ready". Variables named CAAS_BENCH_ENV_<NAME> are passed to it as <NAME>
 * (e.g. CAAS_BENCH_ENV_CAAS_RATE_LIMITS) after `opts.env`; CAAS_BENCH_NODE_ARGS adds node flags.
 */
/** The node flags in package.json's `start` script (`node <flags> services/...`), so the bench runs what users run. */
export function startNodeFlags() {
  const start = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).scripts.start;
  const m = /\bnode((?: --\S+)*) services\//.exec(start);
  if (!m) throw new Error(`cannot find the node command in package.json's start script: ${start}`);
  return m[1].split(" ").filter(Boolean);
}

export async function startEmbeddedPlatform(name = "bench", opts = {}) {
  const main = join(repoRoot, "services/platform/dist/main.js");
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\``);
  const dir = mkdtempSync(join(tmpdir(), `caas-${name}-`));
  const logFile = join(dir, "platform.log");
  const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", CAAS_MODE: "embedded", CAAS_DATA_DIR: join(dir, "data"), CAAS_LOG_LEVEL: "info", CAAS_INSTANCE_ID: "bench" };
  for (const s of ["GATEWAY", "AUTH", "CHAT", "SOCKET", "MEDIA", "SEARCH", "COMPLIANCE", "CRYPTO"]) env[`CAAS_${s}_PORT`] = "0";
  Object.assign(env, opts.env ?? {});
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith("CAAS_BENCH_ENV_")) env[k.slice("CAAS_BENCH_ENV_".length)] = v;
  // The node flags `npm start` runs the platform with (ADR 0029), then CAAS_BENCH_NODE_ARGS: extra
  // flags for the platform (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
  const nodeArgs = [...startNodeFlags(), ...(opts.nodeArgs ?? []), ...(process.env.CAAS_BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean)];
  const child = pinned(0, [...nodeArgs, main], { cwd: repoRoot, env, stdio: ["pipe", openSync(logFile, "a"), openSync(logFile, "a")] });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const text = readFileSync(logFile, "utf8");
    const ready = text
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l))
      .find((l) => l.msg === "platform ready");
    if (ready) {
      return {
        pid: child.pid,
        endpoints: ready.endpoints,
        adminCredential: readFileSync(join(dir, "data", "admin-credential"), "utf8").trim(),
        stop: async () => {
          if (child.exitCode === null) {
            const exited = new Promise((r) => child.once("exit", r));
            child.kill("SIGTERM");
            await exited;
          }
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the platform did not start:\n${text.slice(-3000)}`);
    await sleep(100);
  }
}

/**
 * CPU time (user + system, ms) the process has used so far, from /proc/<pid>/stat (utime and
 * stime are fields 14 and 15, in clock ticks of 10 ms): what the server spent, whatever else
 * the machine was running; NaN without /proc.
 */
export function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}
