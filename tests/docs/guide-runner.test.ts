import { describe, expect, it } from "vitest";
import { outputLikeComments, outputMatches, parseGuide, runGuide } from "../support/guide-runner.js";

const fence = "```";
const run = (md: string) => runGuide(parseGuide(md), { cwd: process.cwd(), env: { PATH: process.env.PATH ?? "" }, stepTimeoutMs: 10_000 });

describe("guide runner", () => {
  it("pairs each shell block with the text block right after it, and leaves manual blocks out", () => {
    const steps = parseGuide(
      [`${fence}sh`, "echo a", fence, "", `${fence}text`, "a", fence, "prose", `${fence}text`, "not an output", fence,
        `${fence}bash fails`, "false", fence, "", `${fence}json`, "{}", fence, `${fence}text`, "x", fence,
        `${fence}sh manual`, "npm start", fence, `${fence}text`, "up", fence].join("\n"),
    );
    expect(steps).toEqual([
      { line: 1, script: "echo a", expectFailure: false, expected: "a" },
      { line: 12, script: "false", expectFailure: true, expected: undefined },
    ]);
  });

  it("matches `…` within a line and a `…` line over any number of lines", () => {
    expect(outputMatches('{"id":"…","seq":"2"}', '{"id":"01a2-ff","seq":"2"}')).toBe(true);
    expect(outputMatches('{"id":"…","seq":"2"}', '{"id":"01a2-ff","seq":"3"}')).toBe(false);
    expect(outputMatches("first\n…\nlast", "first\na\nb\nlast\n")).toBe(true);
    expect(outputMatches("first\n…\nlast", "first\nlast")).toBe(true);
    expect(outputMatches("a\nb", "a\nb\nc")).toBe(false);
    expect(outputMatches("a…", "a\nb")).toBe(false);
  });

  it("finds outputs written as comments in shell blocks", () => {
    const steps = parseGuide([`${fence}sh`, "# a comment", "echo '{}'", '# {"seq":"2"}', fence].join("\n"));
    expect(outputLikeComments(steps)).toEqual(['block at line 1: # {"seq":"2"}']);
  });

  it("carries variables from step to step in one shell", async () => {
    const md = [`${fence}sh`, "X=41", fence, `${fence}sh`, "echo $((X + 1))", fence, `${fence}text`, "42", fence].join("\n");
    expect(await run(md)).toBeUndefined();
  });

  it("fails on a failing command, even inside $(...) or before a later success", async () => {
    const md = [`${fence}sh`, "V=$(false)", "echo fine", fence].join("\n");
    expect(await run(md)).toMatchObject({ line: 1, reason: expect.stringContaining("a command failed") });
  });

  it("fails on output that differs from the guide's", async () => {
    const md = [`${fence}sh`, "echo '{\"seq\":\"3\"}'", fence, `${fence}text`, '{"seq":"2"}', fence].join("\n");
    expect(await run(md)).toMatchObject({ line: 1, reason: expect.stringContaining("differs"), output: '{"seq":"3"}\n' });
  });

  it("requires a refusal where the fence says `fails`", async () => {
    expect(await run([`${fence}sh fails`, "grep -q nothing /dev/null", fence].join("\n"))).toBeUndefined();
    expect(await run([`${fence}sh fails`, "true", fence].join("\n"))).toMatchObject({ reason: expect.stringContaining("every command succeeded") });
  });

  it("fails when the shell exits", async () => {
    expect(await run([`${fence}sh`, "exit 0", fence].join("\n"))).toMatchObject({ reason: expect.stringContaining("the shell exited") });
  });
});
