import assert from "node:assert/strict";
import { test } from "node:test";
import { initWorld, runCliOk, startCli } from "../support/cli.js";
import { makeCanary } from "../support/scratch.js";

/*
 * Node opens its inspector (a debugger any local user can connect to on 127.0.0.1:9229) when the
 * process gets SIGUSR1, and sudo relays the invoking user's signals to the root keyhold it runs.
 * The attack: a user allowed only `sudo keyhold run …` sends SIGUSR1 to their sudo while keyhold
 * holds the credential, then connects to the debugger and runs code as root.
 */
test("SIGUSR1 to a running keyhold never opens Node's inspector", async () => {
  const world = await initWorld("keyhold-inspector-");
  try {
    await runCliOk(["set", "inspector_probe"], { env: world.env, input: makeCanary("inspector") });
    const started = startCli(["run", "inspector_probe", "--", "sh", "-c", "echo started; sleep 2"], {
      env: world.env,
    });
    // Wait until the credential is handed out: keyhold is past its start-up then.
    await new Promise<void>((resolve) => {
      let seen = "";
      started.child.stdout?.on("data", (c: Buffer) => {
        seen += c.toString();
        if (seen.includes("started")) resolve();
      });
    });
    process.kill(started.child.pid as number, "SIGUSR1");
    const r = await started.result;
    assert.doesNotMatch(r.stderr, /Debugger listening|inspector/i);
    assert.equal(r.code, 0, r.stderr);
  } finally {
    world.cleanup();
  }
});
