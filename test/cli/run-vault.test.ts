import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { firstErrorLine, initWorld, runCli, runCliOk } from "../support/cli.js";
import { makeCanary, type Scratch } from "../support/scratch.js";

describe("keyhold run --vault", () => {
  let s: Scratch;
  const fromStore = makeCanary("store");
  const fromVault = makeCanary("vault");
  before(async () => {
    s = await initWorld();
    await runCliOk(["set", "api_key"], { env: s.env, input: fromStore });
    await runCliOk(["vault", "init"], { env: s.env });
    await runCliOk(["vault", "put", "billing/stripe_key"], { env: s.env, input: fromVault });
  });
  after(() => s.cleanup());

  it("hands credstore and vault secrets to one command in one directory", async () => {
    const r = await runCliOk(
      [
        "run",
        "api_key",
        "--vault",
        "billing/stripe_key",
        "--",
        "sh",
        "-c",
        'ls "$CREDENTIALS_DIRECTORY"; wc -c < "$CREDENTIALS_DIRECTORY/stripe_key"',
      ],
      { env: s.env },
    );
    const lines = r.stdout.trim().split("\n");
    assert.deepEqual(lines.slice(0, 2), ["api_key", "stripe_key"]);
    assert.equal(Number(lines[2]), Buffer.byteLength(fromVault));
    assert.ok(!r.stdout.includes(fromVault) && !r.stderr.includes(fromVault));
  });

  it("the vault value reaches the command byte for byte", async () => {
    const r = await runCliOk(
      [
        "run",
        "--vault",
        "billing/stripe_key",
        "--",
        "sh",
        "-c",
        'sha256sum < "$CREDENTIALS_DIRECTORY/stripe_key"',
      ],
      {
        env: s.env,
      },
    );
    const { createHash } = await import("node:crypto");
    assert.match(r.stdout, new RegExp(`^${createHash("sha256").update(fromVault).digest("hex")} `));
  });

  it("refuses a missing vault secret before running anything, and two files of one name", async () => {
    const missing = await runCli(["run", "--vault", "billing/absent", "--", "touch", `${s.root}/ran`], {
      env: s.env,
    });
    assert.equal(missing.code, 1);
    assert.equal(firstErrorLine(missing.stderr).code, "SECRET_NOT_FOUND");
    const twice = await runCli(
      ["run", "--vault", "billing/stripe_key", "--vault", "other/stripe_key", "--", "true"],
      {
        env: s.env,
      },
    );
    assert.equal(twice.code, 2);
  });
});
