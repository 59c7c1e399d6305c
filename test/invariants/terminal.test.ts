/**
 * No value in argv, environment or output at a terminal: `keyhold set` and `rotate` read the value from a no-echo
 * prompt, so nothing the terminal shows holds it; two different entries store nothing.
 * script(1) gives keyhold a real pseudo-terminal; the test types only after each prompt has
 * appeared: like a person (300 ms later) and like a password manager or a paste (at once).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { initWorld, KEYHOLD_BIN, runCliOk, shellQuote } from "../support/cli.js";
import { makeCanary, type Scratch } from "../support/scratch.js";
import { encodingsOf } from "../support/tree.js";

/** Runs keyhold on a pseudo-terminal, typing each answer after the matching prompt appears. */
function atTerminal(
  s: Scratch,
  args: string[],
  answers: { after: string; type: string }[],
  delayMs = 300,
): Promise<{ code: number | null; screen: string }> {
  const command = [process.execPath, KEYHOLD_BIN, ...args].map(shellQuote).join(" ");
  const child = spawn("script", ["-q", "-e", "-c", command, "/dev/null"], {
    env: s.env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let screen = "";
  let next = 0;
  const onOutput = (chunk: Buffer) => {
    screen += chunk.toString("utf8");
    const answer = answers[next];
    // Type once the prompt is on the screen (a count of prompts seen so far, so repeats work).
    if (
      answer &&
      screen.split(answer.after).length - 1 >
        answers.slice(0, next).filter((a) => a.after === answer.after).length
    ) {
      next++;
      setTimeout(() => child.stdin.write(answer.type), delayMs);
    }
  };
  child.stdout.on("data", onOutput);
  child.stderr.on("data", onOutput);
  child.stdin.on("error", () => undefined);
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  return new Promise((resolve) =>
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, screen });
    }),
  );
}

describe("the terminal prompt never shows the value", () => {
  let s: Scratch;
  before(async () => {
    s = await initWorld("keyhold-tty-");
  });
  after(() => s.cleanup());

  it("set and rotate: the value typed twice is stored and never echoed", async () => {
    const value = makeCanary("tty-set");
    const r = await atTerminal(
      s,
      ["set", "typed"],
      [
        { after: "Value for typed:", type: `${value}\r` },
        { after: "Again, to confirm:", type: `${value}\r` },
      ],
    );
    assert.equal(r.code, 0, r.screen);
    for (const form of encodingsOf(value))
      assert.ok(!r.screen.includes(form), "the terminal showed the value");
    assert.equal((await runCliOk(["get", "typed"], { env: s.env })).stdout, value);

    const second = makeCanary("tty-rotate");
    const rotated = await atTerminal(
      s,
      ["rotate", "typed"],
      [
        { after: "Value for typed:", type: `${second}\r` },
        { after: "Again, to confirm:", type: `${second}\r` },
      ],
    );
    assert.equal(rotated.code, 0, rotated.screen);
    for (const form of encodingsOf(second))
      assert.ok(!rotated.screen.includes(form), "the terminal showed the value");
    assert.equal((await runCliOk(["get", "typed"], { env: s.env })).stdout, second);
  });

  it("two different entries store nothing, and neither is shown", async () => {
    const first = makeCanary("tty-first");
    const other = makeCanary("tty-other");
    const r = await atTerminal(
      s,
      ["set", "mistyped"],
      [
        { after: "Value for mistyped:", type: `${first}\r` },
        { after: "Again, to confirm:", type: `${other}\r` },
      ],
    );
    assert.equal(r.code, 2, r.screen);
    assert.match(r.screen, /keyhold: .* \[USAGE\]/);
    for (const form of [...encodingsOf(first), ...encodingsOf(other)]) assert.ok(!r.screen.includes(form));
    assert.equal(existsSync(join(s.store, "mistyped")), false, "nothing was stored");
  });

  it("a value typed the moment the prompt appears is not echoed either (16 trials)", async () => {
    const echoed: string[] = [];
    for (let trial = 0; trial < 16; trial++) {
      const value = makeCanary("tty-fast");
      const name = `fast_${trial}`;
      const r = await atTerminal(
        s,
        ["set", name],
        [
          { after: `Value for ${name}:`, type: `${value}\r` },
          { after: "Again, to confirm:", type: `${value}\r` },
        ],
        0,
      );
      assert.equal(r.code, 0, r.screen);
      if (encodingsOf(value).some((form) => r.screen.includes(form)))
        echoed.push(`trial ${trial}: ${JSON.stringify(r.screen)}`);
    }
    assert.deepEqual(echoed, [], "the terminal echoed a value typed right after the prompt (echo still on)");
  });
});
