import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * One runnable step of a guide: a ```sh (or ```bash) block and, when the guide shows one, the
 * ```text block right after it with the output the step prints (stdout and stderr together).
 */
export interface GuideStep {
  /** 1-based line of the opening fence, for messages. */
  line: number;
  script: string;
  /** Fence `sh fails`: at least one command of the block must fail (the guide shows a refusal). */
  expectFailure: boolean;
  expected: string | undefined;
}

/** A step that did not do what the guide says. */
export interface GuideFailure {
  line: number;
  reason: string;
  script: string;
  output: string;
}

const FENCE = /^```(\S*)(.*)$/;

/**
 * The steps of a guide, in order. Only ```sh and ```bash blocks run (not ```sh manual: what the
 * reader does by hand, like starting the platform); a ```text block counts as the expected output
 * when nothing but blank lines separates it from the block before it.
 */
export function parseGuide(markdown: string): GuideStep[] {
  const lines = markdown.split("\n");
  const steps: GuideStep[] = [];
  let last: GuideStep | undefined;
  let blankSinceLast = true;
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) {
      if (lines[i]!.trim() !== "") blankSinceLast = false;
      continue;
    }
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j]!.startsWith("```")) body.push(lines[j++]!);
    const lang = open[1]!;
    const info = open[2]!.trim().split(/\s+/);
    if ((lang === "sh" || lang === "bash") && !info.includes("manual")) {
      last = { line: i + 1, script: body.join("\n"), expectFailure: info.includes("fails"), expected: undefined };
      steps.push(last);
    } else if (lang === "text" && last && blankSinceLast && last.expected === undefined) {
      last.expected = body.join("\n");
    } else {
      last = undefined;
    }
    blankSinceLast = true;
    i = j;
  }
  return steps;
}

/**
 * Comment lines of shell blocks that look like output (`# {"seq":…}`, `# [`, `# "`): outputs
 * written as comments are never checked, so guides show them in a ```text block instead.
 */
export function outputLikeComments(steps: GuideStep[]): string[] {
  return steps.flatMap((s) =>
    s.script
      .split("\n")
      .filter((l) => /^\s*#\s*[[{"]/.test(l))
      .map((l) => `block at line ${s.line}: ${l.trim()}`),
  );
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Whether `actual` is what a guide shows. Lines are compared after trimming trailing blanks and
 * blank lines at either end. In the expected text `…` stands for any characters within a line
 * (ids, times, tokens), and a line that is only `…` for any number of whole lines.
 */
export function outputMatches(expected: string, actual: string): boolean {
  const norm = (s: string) =>
    s
      .split("\n")
      .map((l) => l.trimEnd())
      .join("\n")
      .replace(/^\n+|\n+$/g, "");
  const pattern = norm(expected)
    .split("\n")
    .map((l) => (l.trim() === "…" ? "(?:[^\\n]*\\n)*?" : `${l.split("…").map(escape).join("[^\\n]*?")}\\n`))
    .join("");
  return new RegExp(`^${pattern}$`).test(`${norm(actual)}\n`);
}

export interface RunOptions {
  /** Directory the shell starts in (the repository root for the real guides). */
  cwd: string;
  env: Record<string, string>;
  /** Longest a single step may take. */
  stepTimeoutMs: number;
}

/**
 * Runs the steps of one guide in order in one bash process (so variables carry from step to
 * step, as in a reader's terminal) and returns the first failure, or undefined when every step
 * did what the guide says. A command failing (errexit rules, with pipefail and errtrace: a
 * failure inside `$(...)` or a function counts) fails a step unless its fence says `fails`; a
 * `fails` step where nothing failed is a failure too.
 */
export async function runGuide(steps: GuideStep[], opts: RunOptions): Promise<GuideFailure | undefined> {
  const dir = mkdtempSync(join(tmpdir(), "caas-guide-"));
  const shell = spawn("bash", ["--noprofile", "--norc"], { cwd: opts.cwd, env: opts.env, stdio: ["pipe", "pipe", "pipe"] });
  let control = "";
  let shellErr = "";
  shell.stdout.on("data", (d: Buffer) => (control += d.toString()));
  shell.stderr.on("data", (d: Buffer) => (shellErr += d.toString()));
  const exited = new Promise<void>((resolve) => shell.once("exit", () => resolve()));
  let alive = true;
  void exited.then(() => (alive = false));
  try {
    shell.stdin.write("set -E -o pipefail\n");
    for (const [n, step] of steps.entries()) {
      const file = join(dir, `step-${n}.sh`);
      const out = join(dir, `out-${n}`);
      const errs = join(dir, `err-${n}`);
      writeFileSync(file, `${step.script}\n`);
      writeFileSync(errs, "");
      // The ERR trap records failing commands without ending the shell; stdin is /dev/null so
      // no command of the guide can read the runner's control stream.
      shell.stdin.write(
        `trap 'printf "block line %s: %s (exit %s)\\n" "$LINENO" "$BASH_COMMAND" "$?" >> ${errs}' ERR\n` + `source ${file} > ${out} 2>&1 < /dev/null\ntrap - ERR\necho "__step_done__ ${n}"\n`,
      );
      const marker = `__step_done__ ${n}\n`;
      const deadline = Date.now() + opts.stepTimeoutMs;
      while (!control.includes(marker) && alive && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const output = readOr(out);
      const fail = (reason: string): GuideFailure => ({ line: step.line, reason, script: step.script, output });
      if (!control.includes(marker)) {
        return fail(alive ? `the step did not finish within ${opts.stepTimeoutMs} ms` : `the shell exited${shellErr ? `: ${shellErr}` : ""}`);
      }
      const failed = readOr(errs).trim();
      if (!step.expectFailure && failed) return fail(`a command failed: ${failed}`);
      if (step.expectFailure && !failed) return fail("the guide says this step is refused (```sh fails) but every command succeeded");
      if (step.expected !== undefined && !outputMatches(step.expected, output)) {
        return fail(`the output (below) differs from the guide's:\n${step.expected}`);
      }
    }
    return undefined;
  } finally {
    shell.stdin.end();
    if (alive) shell.kill("SIGKILL");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

function readOr(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}
