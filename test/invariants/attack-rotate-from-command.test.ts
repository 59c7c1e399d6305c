/**
 * `rotate --from-command CMD` against a command whose descendants outlive it: a process it started
 * (an agent a provider's CLI leaves behind, `cmd &`) keeps the stdout pipe open. keyhold must still
 * give up at its time limit, refuse the value and not wait for the descendant; and a command that
 * prints too much must be refused even when a descendant keeps printing.
 */
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { valueFromCommand } from "../../src/app/value-command.js";
import { isKeyholdError } from "../../src/secret/index.js";
import { makeCanary, makeScratch, type Scratch } from "../support/scratch.js";

/** Kills the descendant whose pid the command wrote to `file`, if it wrote one. */
function killWritten(file: string): void {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    if (Number.isInteger(pid) && pid > 0) process.kill(pid, "SIGKILL");
  } catch {
    // gone already, or never started
  }
  rmSync(file, { force: true });
}

describe("rotate --from-command and the command's descendants", () => {
  let s: Scratch;
  before(() => {
    s = makeScratch("keyhold-attack-fromcmd-");
  });
  after(() => s.cleanup());

  it("a descendant holding stdout open: refused at the time limit, the value not taken", {
    timeout: 60_000,
  }, async () => {
    const value = makeCanary("outlived");
    const pidFile = join(s.root, "sleeper.pid");
    const source = join(s.root, "provider-output");
    writeFileSync(source, `${value}\n`, { mode: 0o600 });
    // The command exits 0 at once after printing; the sleeper it leaves holds the pipe for 120 s.
    const command = `/bin/sh -c '/bin/sleep 120 & echo $! > ${pidFile}; /bin/cat ${source}'`;
    try {
      await assert.rejects(
        valueFromCommand("minted_key", command, { env: {}, timeoutMs: 1_000 }),
        (err) => isKeyholdError(err, "COMMAND_FAILED") && !String(err).includes(value),
      );
    } finally {
      killWritten(pidFile);
    }
  });

  it("a descendant that keeps printing past the limit: refused, not waited for", {
    timeout: 60_000,
  }, async () => {
    const pidFile = join(s.root, "printer.pid");
    // `wait` keeps the shell (the child keyhold kills) in front; `yes` would print for 120 s.
    const command = `/bin/sh -c '/usr/bin/timeout 120 /usr/bin/yes & echo $! > ${pidFile}; wait'`;
    try {
      await assert.rejects(valueFromCommand("minted_key", command, { env: {}, timeoutMs: 30_000 }), (err) =>
        isKeyholdError(err, "TOO_LARGE"),
      );
    } finally {
      killWritten(pidFile);
    }
  });
});
