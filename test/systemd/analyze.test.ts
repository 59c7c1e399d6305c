import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { encryptCredential, securityExposure, verifyUnits } from "../../src/systemd/index.js";
import { renderUnit, type UnitOptions, vaultUnitPrefix } from "../../src/units/index.js";
import { AS_NOBODY, checkoutUnreadableBy } from "../support/checkout.js";
import { makeCanary, makeScratch, type Scratch } from "../support/scratch.js";
import { SNAPSHOT_CASES } from "./cases.js";

/**
 * Every rendered unit passes `systemd-analyze verify` with nothing on stderr, and its exposure
 * (`systemd-analyze security --offline=true`) is printed and held to the goals of issue 3:
 * ≤ 1.0 for the job server, ≤ 2.5 for isolated services. docs/units.md records the figures.
 * Then `keyhold unit` as transcripts: install, the embedded-name check, refusals that leave
 * nothing behind.
 */

const BIN = fileURLToPath(new URL("../../../bin/keyhold.js", import.meta.url));

function keyhold(args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// The job server's 1.7 (0.9 without network) is 0.7 above what it was before each run got
// namespaces of its own: RestrictNamespaces= allows user, mnt, pid and ipc (0.6) and
// SystemCallFilter= allows @mount (0.2) — docs/units.md.
const GOALS: Record<string, number> = { jobserver: 1.7, isolated: 2.5 };

describe("systemd-analyze on the rendered units", () => {
  let scratch: Scratch;
  before(() => {
    scratch = makeScratch("keyhold-analyze-");
  });
  after(() => scratch.cleanup());

  for (const [name, options] of Object.entries(SNAPSHOT_CASES)) {
    if (options.dropIn) continue;
    it(`${name}: verify is clean and the exposure is recorded`, async (t) => {
      const dir = join(scratch.root, name);
      mkdirSync(dir, { recursive: true });
      const rendered = renderUnit(options);
      const paths = rendered.files.map((f) => {
        const path = join(dir, f.path);
        writeFileSync(path, f.content);
        return path;
      });
      const verify = await verifyUnits(paths);
      assert.deepEqual(verify.messages, []);
      assert.ok(verify.ok);

      const service = paths.find((p) => p.endsWith(".service")) ?? "";
      const report = await securityExposure(service);
      t.diagnostic(`exposure ${name}: ${report.exposure.toFixed(1)} ${report.rating}`);
      t.diagnostic(
        `  remaining: ${report.findings
          .slice(0, 8)
          .map((f) => `${f.setting} ${f.exposure}`)
          .join(", ")}`,
      );
      assert.ok(report.exposure >= 0 && report.exposure <= 10);
      const goal = GOALS[options.mode];
      if (goal !== undefined)
        assert.ok(report.exposure <= goal, `${name} exposure ${report.exposure} above the goal ${goal}`);
    });
  }

  it("the root instance that answers vault credential requests stays within its goal", async (t) => {
    const rendered = renderUnit(SNAPSHOT_CASES["jobserver-vault"] as UnitOptions);
    const template = rendered.files.find((f) => /-vault-[0-9a-f]{10}@\.service$/.test(f.path));
    assert.ok(template);
    // The analysis needs an instance; the name is what systemd gives one connection.
    const path = join(scratch.root, "keyhold-jobs-vault@0-1-0.service");
    writeFileSync(path, template.content);
    const report = await securityExposure(path);
    t.diagnostic(
      `exposure of the vault answerer (root, no capabilities): ${report.exposure.toFixed(1)} ${report.rating}`,
    );
    assert.ok(report.exposure <= 2.0, `vault answerer exposure ${report.exposure} above the goal 2.0`);
  });

  it("verify's parse warnings count as failure although it exits 0", async () => {
    const path = join(scratch.root, "warned.service");
    writeFileSync(path, "[Service]\nExecStart=/usr/bin/true\nLoadCredentialEncryptd=x:/y\n");
    const result = await verifyUnits([path]);
    assert.equal(result.exitCode, 0, "systemd-analyze itself is content");
    assert.equal(result.ok, false);
    assert.ok(
      result.messages.some((m) => /Unknown key/.test(m)),
      result.messages.join("\n"),
    );
  });

  it("the sandbox is what earns the score: the same service without it is exposed", async (t) => {
    const path = join(scratch.root, "bare.service");
    writeFileSync(path, "[Service]\nExecStart=/usr/bin/true\nDynamicUser=yes\n");
    const bare = await securityExposure(path);
    t.diagnostic(`exposure of a bare DynamicUser=yes service: ${bare.exposure}`);
    const isolated = renderUnit(SNAPSHOT_CASES.isolated as UnitOptions);
    const isolatedPath = join(scratch.root, "isolated-again.service");
    writeFileSync(isolatedPath, isolated.files[0]?.content ?? "");
    assert.ok((await securityExposure(isolatedPath)).exposure < bare.exposure);
  });
});

describe("keyhold unit (transcripts)", () => {
  let scratch: Scratch;
  let root: string;
  const canary = makeCanary("unit-cli");
  before(async () => {
    scratch = makeScratch("keyhold-unit-cli-");
    mkdirSync(scratch.store, { recursive: true, mode: 0o700 });
    mkdirSync(scratch.state, { recursive: true, mode: 0o700 });
    root = join(scratch.root, "root");
    for (const name of ["my_api_key", "my_app_key"]) {
      const ciphertext = await encryptCredential(name, Buffer.from(canary), {
        env: scratch.env,
        withKey: "host",
      });
      writeFileSync(join(scratch.store, name), ciphertext, { mode: 0o600 });
    }
  });
  after(() => scratch.cleanup());

  const unitDir = () => join(root, "etc/systemd/system");
  const listing = () =>
    existsSync(unitDir()) ? readdirSync(unitDir(), { recursive: true }).map(String).sort() : [];

  it("$ keyhold unit my-app --exec … --cred my_api_key  → the unit on stdout, exit 0", () => {
    const r = keyhold(
      ["unit", "my-app", "--exec", "/usr/bin/python3 /opt/app/main.py", "--cred", "my_api_key"],
      scratch.env,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.match(
      r.stdout,
      new RegExp(`^LoadCredentialEncrypted=my_api_key:${scratch.store}/my_api_key$`, "m"),
    );
    assert.ok(!r.stdout.includes(canary));
  });

  it("$ keyhold unit … --cred my_key:my_app_key  → NAME_MISMATCH with the fix, exit 1", () => {
    const r = keyhold(
      [
        "unit",
        "my-app",
        "--exec",
        "/usr/bin/true",
        "--cred",
        "my_key:my_app_key",
        "--install",
        "--root",
        root,
      ],
      scratch.env,
    );
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    const [line, hint] = r.stderr.trimEnd().split("\n");
    assert.match(
      line ?? "",
      /^keyhold: credential my_key: the file .*\/my_app_key was encrypted under the name my_app_key, .*\[NAME_MISMATCH\]$/,
    );
    assert.match(
      hint ?? "",
      /^keyhold: hint: load it under its own name \(--cred my_app_key:.*\/my_app_key\) or re-encrypt/,
    );
    assert.ok(!r.stderr.includes(canary));
    assert.deepEqual(listing(), [], "nothing written");
  });

  it("$ keyhold unit … --install --root DIR  → written 0644 and verified; again: unchanged", () => {
    const args = [
      "unit",
      "my-app",
      "--mode",
      "isolated",
      "--exec",
      "/usr/bin/python3 /opt/app/main.py",
      "--cred",
      "my_api_key",
      "--install",
      "--root",
      root,
    ];
    const r = keyhold(args, scratch.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^installed .*\/etc\/systemd\/system\/my-app\.service$/m);
    assert.match(r.stdout, /^next: systemctl daemon-reload && systemctl enable --now my-app\.service$/m);
    const path = join(unitDir(), "my-app.service");
    assert.equal(statSync(path).mode & 0o777, 0o644);
    assert.ok(!readFileSync(path, "utf8").includes(canary));
    assert.equal(keyhold(args, scratch.env).code, 0, "re-installing the same unit is a no-op");
  });

  it("$ keyhold unit … --install over a different unit  → UNIT_EXISTS, file unchanged; --force replaces", () => {
    const path = join(unitDir(), "my-app.service");
    const before = readFileSync(path, "utf8");
    const args = [
      "unit",
      "my-app",
      "--mode",
      "isolated",
      "--exec",
      "/usr/bin/python3 /opt/app/other.py",
      "--install",
      "--root",
      root,
    ];
    const r = keyhold(args, scratch.env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /exists with other content \[UNIT_EXISTS\]/);
    assert.equal(readFileSync(path, "utf8"), before);
    const forced = keyhold([...args, "--force"], scratch.env);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(readFileSync(path, "utf8"), /other\.py/);
  });

  it("$ keyhold unit … --install with a unit verify refuses  → UNIT_INVALID, nothing left behind", () => {
    const before = listing();
    const r = keyhold(
      ["unit", "broken", "--exec", "/nonexistent/bin/app", "--install", "--root", root],
      scratch.env,
    );
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^keyhold: systemd-analyze verify refused the unit: .*\/nonexistent\/bin\/app.* \[UNIT_INVALID\]$/m,
    );
    assert.deepEqual(listing(), before);
  });

  it("$ keyhold unit postgresql --drop-in --cred my_api_key --install  → a verified drop-in beside the service", () => {
    writeFileSync(join(unitDir(), "postgresql.service"), "[Service]\nExecStart=/usr/bin/true\n");
    const r = keyhold(
      ["unit", "postgresql", "--drop-in", "--cred", "my_api_key", "--install", "--root", root],
      scratch.env,
    );
    assert.equal(r.code, 0, r.stderr);
    const dropIn = join(unitDir(), "postgresql.service.d/50-keyhold-credentials.conf");
    assert.match(readFileSync(dropIn, "utf8"), /^LoadCredentialEncrypted=my_api_key:/m);
  });

  it("$ keyhold unit postgresql --drop-in --vault db/password --install  → the drop-in and the answering units, all verified", (t) => {
    // The answering units read the store and the state directory with PrivateTmp=yes: a scratch
    // under /tmp is refused (test/systemd/sandbox-paths.test.ts), one in /dev/shm is not.
    const shm = mkdtempSync("/dev/shm/keyhold-unit-vault-");
    t.after(() => rmSync(shm, { recursive: true, force: true }));
    const dirs = ["--store", join(shm, "credstore.encrypted"), "--state", join(shm, "state")];
    const r = keyhold(
      [
        "unit",
        "postgresql",
        "--drop-in",
        "--vault",
        "db/password",
        // keyhold from its install, not from this checkout (which may be a clone under /tmp).
        "--keyhold-root",
        "/opt/keyhold",
        "--install",
        "--root",
        root,
        "--force",
        ...dirs,
      ],
      scratch.env,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /there is no vault in .* yet/);
    const dropIn = readFileSync(join(unitDir(), "postgresql.service.d/50-keyhold-credentials.conf"), "utf8");
    assert.match(
      dropIn,
      /^LoadCredentialEncrypted=password:\/run\/keyhold-vault\/postgresql\/db\/password$/m,
    );
    const answerer = vaultUnitPrefix("postgresql", { ns: "db", name: "password" });
    assert.match(readFileSync(join(unitDir(), `${answerer}.socket`), "utf8"), /^Accept=yes$/m);
    assert.match(
      readFileSync(join(unitDir(), `${answerer}@.service`), "utf8"),
      /--for postgresql --ref db\/password /,
    );
    assert.match(r.stdout, /next: keyhold vault grant postgresql db\/password --ops read/);
    // Another list later: the old secret's answering units are named for removal.
    const again = keyhold(
      [
        "unit",
        "postgresql",
        "--drop-in",
        "--vault",
        "db/other",
        "--keyhold-root",
        "/opt/keyhold",
        "--install",
        "--root",
        root,
        "--force",
        ...dirs,
      ],
      scratch.env,
    );
    assert.equal(again.code, 0, again.stderr);
    assert.match(
      again.stderr,
      new RegExp(
        `warning: ${answerer}\\.socket answers a vault secret this unit no longer loads; remove it: systemctl disable --now ${answerer}\\.socket && rm `,
      ),
    );
    assert.match(
      r.stdout,
      new RegExp(
        `next: systemctl daemon-reload && systemctl enable --now ${answerer}\\.socket && systemctl restart postgresql\\.service`,
      ),
    );
  });

  it("$ keyhold unit … --mode jobserver --install  → socket and service, and a warning when the group is missing", () => {
    const r = keyhold(
      [
        "unit",
        "keyhold-jobs",
        "--mode",
        "jobserver",
        "--group",
        "nosuchgroup",
        "--cred",
        "my_api_key",
        // The unit runs keyhold from its install, not from this checkout, which may be a clone
        // under /tmp that the unit's PrivateTmp= would hide (keyhold unit refuses that).
        "--keyhold-root",
        "/opt/keyhold",
        "--install",
        "--root",
        root,
      ],
      scratch.env,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /group nosuchgroup does not exist; the socket fails with 216\/GROUP/);
    // The job server's own audit key (never the host's), sealed once under the credential's name.
    const key = join(root, scratch.env.KEYHOLD_STATE as string, "keyhold-jobs.audit-key");
    assert.match(r.stdout, new RegExp(`^created the job server's audit key ${key}$`, "m"));
    assert.ok(existsSync(key));
    assert.ok(
      existsSync(join(unitDir(), "keyhold-jobs.socket")) &&
        existsSync(join(unitDir(), "keyhold-jobs.service")),
    );
  });

  it("$ keyhold unit … --exec with a key in it  → SECRET_IN_COMMAND without the key, exit 1, nothing written", () => {
    const before = listing();
    const r = keyhold(
      ["unit", "leaky", "--exec", `/usr/bin/app --api-key=${canary}`, "--install", "--root", root],
      scratch.env,
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\[SECRET_IN_COMMAND\]/);
    assert.ok(!r.stderr.includes(canary) && !r.stdout.includes(canary));
    assert.deepEqual(listing(), before);
  });

  it("$ keyhold unit … --json  → files and credential checks as JSON", () => {
    const r = keyhold(
      ["unit", "my-app", "--exec", "/usr/bin/true", "--cred", "my_api_key", "--cred", "later", "--json"],
      scratch.env,
    );
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      primary: string;
      files: { path: string }[];
      credentials: { id: string; status: string }[];
    };
    assert.equal(out.primary, "my-app.service");
    assert.deepEqual(
      out.files.map((f) => f.path),
      ["my-app.service"],
    );
    assert.deepEqual(
      out.credentials.map((c) => [c.id, c.status]),
      [
        ["my_api_key", "ok"],
        ["later", "missing"],
      ],
    );
    assert.ok(!r.stdout.includes(canary));
  });

  it("$ keyhold unit --help  → the options, exit 0", () => {
    const r = keyhold(["unit", "--help"], scratch.env);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^usage: keyhold unit SERVICE --exec CMD/);
    for (const option of [
      "--mode",
      "--cred",
      "--bind-ro",
      "--group",
      "--ip-allow",
      "--drop-in",
      "--install",
      "--root",
    ]) {
      assert.ok(r.stdout.includes(option), option);
    }
  });

  it("as a non-root user: the name check is skipped with a warning, --install into /etc is NOT_ROOT", (t) => {
    if (process.getuid?.() !== 0) {
      t.skip("needs root to switch to an unprivileged user");
      return;
    }
    const unreadable = checkoutUnreadableBy(AS_NOBODY);
    if (unreadable !== undefined) return t.skip(unreadable);
    const asNobody = (args: string[]) => {
      const r = spawnSync(
        "setpriv",
        ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, BIN, ...args],
        {
          env: scratch.env,
          encoding: "utf8",
        },
      );
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const rendered = asNobody(["unit", "my-app", "--exec", "/usr/bin/true", "--cred", "my_api_key"]);
    assert.equal(rendered.code, 0, rendered.stderr);
    assert.match(rendered.stderr, /the embedded name of .*my_api_key was not checked \(needs root\)/);
    const lockedRoot = join(scratch.root, "locked");
    mkdirSync(join(lockedRoot, "etc/systemd/system"), { recursive: true, mode: 0o755 });
    const installed = asNobody([
      "unit",
      "my-app",
      "--exec",
      "/usr/bin/true",
      "--install",
      "--root",
      lockedRoot,
    ]);
    assert.equal(installed.code, 1);
    assert.match(installed.stderr, /^keyhold: cannot write units to .*: permission denied \[NOT_ROOT\]$/m);
    assert.deepEqual(readdirSync(join(lockedRoot, "etc/systemd/system")), []);
  });

  for (const [args, message] of [
    [["unit"], /missing SERVICE/],
    [["unit", "x", "--mode", "paranoid", "--exec", "/usr/bin/true"], /invalid mode/],
    [["unit", "x", "--exec", "true"], /absolute path/],
    [
      ["unit", "x", "--exec", "/usr/bin/true", "--mode", "isolated", "--bind", "/srv/../etc"],
      /"\." or "\.\." parts/,
    ],
    [["unit", "x", "--exec", "/usr/bin/true", "--root", "/tmp"], /--root goes with --install/],
    [["unit", "x", "--bogus"], /unknown option/],
  ] as const) {
    it(`$ keyhold ${args.join(" ")}  → USAGE, exit 2`, () => {
      const r = keyhold([...args], scratch.env);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /\[USAGE\]$/m);
      assert.equal(r.stdout, "");
    });
  }
});
