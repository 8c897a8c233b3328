import { readdirSync, readFileSync } from "node:fs";

/** The pid of the embedded platform process serving `dataDir` (found through /proc: the spawn wrapper hides it). */
export function platformPid(dataDir: string): number {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (!cmdline.includes("platform/dist/main.js") || cmdline.includes("exit-with-parent")) continue;
      if (readFileSync(`/proc/${entry}/environ`, "utf8").split("\0").includes(`CAAS_DATA_DIR=${dataDir}`)) return Number(entry);
    } catch {
      // A process that ended or is not ours: skip it.
    }
  }
  throw new Error(`no platform process serves ${dataDir}`);
}

/** Resident memory of `pid` in MiB (VmRSS). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}
