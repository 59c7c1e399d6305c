/**
 * `KEYHOLD_STATE=` and `KEYHOLD_STORE=` (set, but empty) mean what shells users expect: unset, so
 * every command falls back to the default directory. Each command used to decide for itself: one
 * fell back, one refused the empty path, one made it a usage error, and the scanner read
 * `scan-index.json` from the current directory — a repository being scanned could hand it an index.
 *
 * Only commands that read are run here: with the variable empty they look at the defaults
 * (/var/lib/keyhold, /etc/credstore.encrypted) and must behave exactly as with it unset.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { KEYHOLD_BIN } from "../support/cli.js";
import { makeScratch, type Scratch } from "../support/scratch.js";

const COMMANDS: ReadonlyArray<{ what: string; args: readonly string[]; shows?: string }> = [
  { what: "ls", args: ["ls", "--json"] },
  { what: "history", args: ["history", "some_key"] },
  { what: "audit", args: ["audit"], shows: "/var/lib/keyhold/keyhold.audit-key" },
  { what: "scan", args: ["scan", "."] },
  {
    what: "unit",
    args: ["unit", "web", "--exec", "/usr/bin/app", "--mode", "jobserver", "--cred", "web_key"],
    shows: "/var/lib/keyhold/web.audit-key",
  },
  { what: "vault ls", args: ["vault", "ls"] },
];

describe("an empty KEYHOLD_STATE or KEYHOLD_STORE is unset, for every command", () => {
  let s: Scratch;
  let repo: string;

  before(() => {
    s = makeScratch("keyhold-empty-vars-");
    // The directory a scan runs in holds what an index and a key would be, were "" a relative path.
    repo = join(s.root, "repo");
    mkdirSync(repo);
    writeFileSync(join(repo, "scan-index.json"), '{"format":"planted","version":1,"entries":[]}');
    writeFileSync(join(repo, "keyhold.audit-key"), "planted");
  });
  after(() => s.cleanup());

  function run(args: readonly string[], env: NodeJS.ProcessEnv) {
    const r = spawnSync(process.execPath, [KEYHOLD_BIN, ...args], { cwd: repo, env, encoding: "utf8" });
    // Durations differ from run to run; nothing else may.
    const steady = (text: string) => text.replace(/\b\d+(?:\.\d+)? s\b/g, "N s");
    return { code: r.status, stdout: steady(r.stdout), stderr: steady(r.stderr) };
  }

  for (const variable of ["KEYHOLD_STATE", "KEYHOLD_STORE"] as const) {
    it(`${variable}="" behaves as ${variable} unset in ${COMMANDS.map((c) => c.what).join(", ")}`, () => {
      const unset = { ...s.env };
      delete unset[variable];
      const empty = { ...s.env, [variable]: "" };
      for (const c of COMMANDS) {
        const a = run(c.args, unset);
        const b = run(c.args, empty);
        assert.deepEqual(b, a, `keyhold ${c.args.join(" ")} with ${variable}=""`);
        assert.doesNotMatch(b.stderr, /PATH_VALIDATION_FAILED|planted|not valid/, c.what);
        if (variable === "KEYHOLD_STATE" && c.shows !== undefined) {
          assert.ok(`${b.stdout}${b.stderr}`.includes(c.shows), `${c.what} uses the default state directory`);
        }
      }
    });
  }

  it('the unit names the default store for KEYHOLD_STORE=""', () => {
    const r = run(["unit", "web", "--exec", "/usr/bin/app", "--cred", "web_key"], {
      ...s.env,
      KEYHOLD_STORE: "",
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^LoadCredentialEncrypted=web_key:\/etc\/credstore\.encrypted\/web_key$/m);
  });
});
