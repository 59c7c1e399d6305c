import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { jobServerConfigOf, jobsUsing } from "../../src/app/rollout-jobs.js";
import { makeScratch } from "../support/scratch.js";

const CONFIG = {
  jobs: {
    report: { argv: ["/bin/true"], cwd: "/", credentials: ["api_key"], outputDir: "/tmp" },
    deploy: { argv: ["/bin/true"], cwd: "/", credentials: ["other", "api_key"], outputDir: "/tmp" },
    noop: { argv: ["/bin/true"], cwd: "/", outputDir: "/tmp" },
  },
};

describe("which jobs of a job server receive a credential", () => {
  const s = makeScratch("keyhold-rollout-jobs-");
  after(() => s.cleanup());
  const units = join(s.root, "units");
  mkdirSync(join(units, "hand-jobs.service.d"), { recursive: true });
  const config = join(s.root, "jobs.json");
  writeFileSync(config, JSON.stringify(CONFIG));
  const broken = join(s.root, "broken.json");
  writeFileSync(broken, "{ not json");
  const unit = (exec: string) => `[Service]\nLoadCredentialEncrypted=api_key\nExecStart=${exec}\n`;
  writeFileSync(
    join(units, "keyhold-jobs.service"),
    unit(`/usr/bin/node /opt/keyhold/bin/keyhold.js serve --config ${config}`),
  );
  writeFileSync(join(units, "plain.service"), unit("/usr/bin/my-app --config /etc/app.json"));
  // Was a job server; a drop-in runs something else now.
  mkdirSync(join(units, "was-jobs.service.d"));
  writeFileSync(join(units, "was-jobs.service"), unit(`/usr/bin/keyhold serve --config ${config}`));
  writeFileSync(join(units, "was-jobs.service.d", "app.conf"), "[Service]\nExecStart=\nExecStart=/usr/bin/app\n");
  writeFileSync(join(units, "hand-jobs.service"), unit("/usr/bin/true"));
  // A drop-in replaces the command: the drop-in's configuration is the one in effect.
  writeFileSync(
    join(units, "hand-jobs.service.d", "serve.conf"),
    `[Service]\nExecStart=\nExecStart=/usr/local/bin/keyhold serve --config=${broken}\n`,
  );

  it("reads the configuration from the ExecStart= that runs keyhold serve", () => {
    assert.equal(jobServerConfigOf(unit("/usr/bin/keyhold serve")), "/etc/keyhold/jobs.json");
    assert.equal(jobServerConfigOf(unit("/x/keyhold.js serve --config /a/b.json")), "/a/b.json");
    assert.equal(jobServerConfigOf(unit("/usr/bin/keyhold run api_key -- serve")), null);
    assert.equal(jobServerConfigOf(unit("/usr/bin/notkeyhold serve --config /a")), null);
    assert.equal(jobServerConfigOf("[Service]\nExecStartPost=/usr/bin/keyhold serve\n"), undefined);
    // A later ExecStart= (a drop-in's reset and replacement) decides.
    assert.equal(jobServerConfigOf(`${unit("/usr/bin/keyhold serve")}ExecStart=\nExecStart=/usr/bin/app\n`), null);
  });

  it("names the jobs that declare it, for job servers only; a configuration that does not load is a note", () => {
    const users = ["keyhold-jobs.service", "plain.service", "hand-jobs.service", "was-jobs.service"].map((u) => ({
      unit: u,
      id: "api_key",
    }));
    const { byUnit, notes } = jobsUsing(users, { unitDirs: [units] });
    assert.deepEqual(byUnit.get("keyhold-jobs.service"), { config, jobs: ["deploy", "report"] });
    assert.equal(byUnit.has("plain.service"), false);
    assert.equal(byUnit.has("hand-jobs.service"), false);
    assert.equal(byUnit.has("was-jobs.service"), false);
    assert.equal(notes.length, 1);
    assert.match(notes[0] as string, /^hand-jobs\.service: its job configuration .*broken\.json does not load \(INVALID_FORMAT\)/);
    const other = jobsUsing([{ unit: "keyhold-jobs.service", id: "unused" }], { unitDirs: [units] });
    assert.deepEqual(other.byUnit.get("keyhold-jobs.service")?.jobs, []);
  });
});
