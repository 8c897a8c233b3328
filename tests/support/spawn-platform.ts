import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** Wraps a spawned process so it ends when the test runner does (tests/support/exit-with-parent.mjs). */
export const exitWithParent = fileURLToPath(new URL("./exit-with-parent.mjs", import.meta.url));

/** What tests know about a running platform. */
export interface PlatformInfo {
  mode: "embedded" | "cluster";
  /** Base URL per service name (for cluster: the first instance). */
  endpoints: Record<string, string>;
  /** Files holding the JSON log lines of the platform's processes. */
  logFiles: string[];
  dataDir: string;
}

export interface SpawnedPlatform {
  info: PlatformInfo;
  stop(): Promise<number | null>;
}

/** An embedded platform this process started: it can also be killed without warning. */
export interface SpawnedEmbedded extends SpawnedPlatform {
  /** The pid of the platform process itself (not of its exit-with-parent wrapper). */
  pid(): number;
  /** SIGKILLs the platform process; resolves once it has exited. */
  kill(): Promise<void>;
}

/** The pid of the service process an exit-with-parent wrapper runs (its only child). */
export function servicePid(wrapper: ChildProcess): number {
  const pid = wrapper.pid!;
  const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
  if (kids.length !== 1) throw new Error(`expected one service process under wrapper ${pid}, found [${kids.join(", ")}]`);
  return Number(kids[0]);
}

/**
 * The browser origin test platforms allow (CAAS_CORS_ORIGINS): cross-origin calls and /ws from
 * it are admitted, from any other origin refused.
 */
export const TEST_ALLOWED_ORIGIN = "http://app.caas.test:8080";

/** Every service port set to 0, so a test platform never collides with a running `npm start`. */
export function zeroPorts(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const s of ["GATEWAY", "AUTH", "CHAT", "SOCKET", "MEDIA", "SEARCH", "COMPLIANCE", "CRYPTO"]) env[`CAAS_${s}_PORT`] = "0";
  return env;
}

/** Reads the JSON log lines of a file, skipping anything that is not JSON. */
export function readLogLines(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

/** Polls `file` until a log line matches, or fails with the file's tail. */
export async function waitForLog(file: string, match: (line: Record<string, unknown>) => boolean, timeoutMs: number, child?: ChildProcess): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const hit = readLogLines(file).find(match);
    if (hit) return hit;
    if (child && child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const tail = existsSync(file) ? readFileSync(file, "utf8").split("\n").slice(-30).join("\n") : "(no log)";
  throw new Error(`timed out waiting for a log line in ${file}; exit=${child?.exitCode}\n${tail}`);
}

/**
 * Starts the compiled embedded platform exactly as `npm start` does (node
 * services/platform/dist/main.js), on free ports with a fresh data directory (`extraEnv` may name
 * the ports and CAAS_DATA_DIR instead, e.g. to start a killed platform again on its data).
 */
export async function spawnEmbeddedPlatform(extraEnv: Record<string, string> = {}): Promise<SpawnedEmbedded> {
  const main = join(repoRoot, "services/platform/dist/main.js");
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` (npm test does it in pretest)`);
  const dir = mkdtempSync(join(tmpdir(), "caas-test-"));
  const logFile = join(dir, "platform.log");
  const out = openSync(logFile, "a");
  const child = spawn(process.execPath, [exitWithParent, process.execPath, main], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      CAAS_MODE: "embedded",
      CAAS_DATA_DIR: join(dir, "data"),
      CAAS_LOG_LEVEL: "info",
      CAAS_INSTANCE_ID: "test-embedded",
      CAAS_CORS_ORIGINS: TEST_ALLOWED_ORIGIN,
      ...zeroPorts(),
      ...extraEnv,
    },
    stdio: ["pipe", out, out],
  });
  const ready = await waitForLog(logFile, (l) => l.msg === "platform ready", 60_000, child);
  return {
    info: {
      mode: "embedded",
      endpoints: ready.endpoints as Record<string, string>,
      logFiles: [logFile],
      dataDir: extraEnv.CAAS_DATA_DIR ?? join(dir, "data"),
    },
    pid: () => servicePid(child),
    async kill() {
      const exited = new Promise((r) => child.once("exit", r));
      process.kill(servicePid(child), "SIGKILL");
      await exited;
    },
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once("exit", (code) => resolve(code));
        child.kill("SIGTERM");
      }),
  };
}
