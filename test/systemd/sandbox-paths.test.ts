import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { isSecretError } from "../../src/secret/index.js";
import { renderUnit } from "../../src/units/index.js";
import { KEYHOLD_BIN } from "../support/cli.js";

function runCli(args: readonly string[]) {
  return spawnSync(process.execPath, [KEYHOLD_BIN, ...args], { encoding: "utf8", timeout: 60_000 });
}

/**
 * What a sandboxed unit's ExecStart= needs (node, keyhold's bin/keyhold.js and dist/, the job
 * configuration, a program of the user's own) must be visible inside the sandbox the unit renders.
 * A job server cloned under /tmp rendered a unit whose PrivateTmp=yes hid its own script: every
 * start failed, `systemd-analyze verify` passed, and `keyhold trigger` saw only ECONNRESET.
 */
function refused(fn: () => unknown, message: RegExp, hint?: RegExp): void {
  assert.throws(
    fn,
    (err: unknown) =>
      isSecretError(err, "USAGE") &&
      message.test(err.message) &&
      (hint === undefined || hint.test(err.hint ?? "")),
  );
}

describe("unit: ExecStart's paths are visible inside the sandbox", () => {
  for (const root of ["/tmp/keyhold", "/var/tmp/src/keyhold", "/dev/shm/keyhold"]) {
    it(`refuses a job server whose keyhold is under ${root.split("/")[1] === "dev" ? "/dev" : root.split("/").slice(0, -1).join("/")}`, () => {
      refused(
        () => renderUnit({ service: "keyhold-jobs", mode: "jobserver", keyholdRoot: root }),
        /the keyhold directory is .* which the unit's Private(Tmp|Devices)=yes hides from the service/,
      );
    });
  }

  it("refuses a job configuration or a node under /tmp, and one under the hidden socket directory", () => {
    refused(
      () => renderUnit({ service: "keyhold-jobs", mode: "jobserver", config: "/tmp/jobs.json" }),
      /--config is \/tmp\/jobs\.json, under \/tmp/,
    );
    refused(
      () => renderUnit({ service: "keyhold-jobs", mode: "jobserver", node: "/tmp/node/bin/node" }),
      /the node binary is \/tmp\/node\/bin\/node/,
    );
    refused(
      () => renderUnit({ service: "keyhold-jobs", mode: "jobserver", config: "/run/keyhold/jobs.json" }),
      /InaccessiblePaths= hides/,
    );
  });

  it("refuses an isolated service whose program is under /tmp, or under a home without --bind-ro", () => {
    refused(
      () => renderUnit({ service: "web", mode: "isolated", exec: "/tmp/app/run --port 80" }),
      /the program of --exec is \/tmp\/app\/run/,
    );
    refused(
      () => renderUnit({ service: "web", mode: "isolated", exec: "/home/ann/app/run" }),
      /under a home directory, which the unit's ProtectHome= hides/,
      /--bind-ro \/home\/ann\/app/,
    );
    const { files } = renderUnit({
      service: "web",
      mode: "isolated",
      exec: "/home/ann/app/run",
      bindReadOnlyPaths: ["/home/ann/app"],
    });
    assert.match(files[0]?.content ?? "", /^BindReadOnlyPaths=\/home\/ann\/app$/m);
  });

  it("refuses a script under /tmp handed to the program, when it exists here; a path the service makes in its own /tmp is fine", () => {
    const here = new Set(["/tmp/app/main.py"]);
    refused(
      () =>
        renderUnit({
          service: "web",
          mode: "isolated",
          exec: "/usr/bin/python3 /tmp/app/main.py --port 80",
          resolvePath: (p) => (here.has(p) ? p : undefined),
        }),
      /an argument of --exec is \/tmp\/app\/main\.py, under \/tmp, which the unit's PrivateTmp=yes hides/,
    );
    assert.doesNotThrow(() =>
      renderUnit({
        service: "web",
        mode: "isolated",
        exec: "/usr/bin/python3 /opt/app/main.py --pidfile /tmp/web.pid",
        resolvePath: (p) => (here.has(p) ? p : undefined),
      }),
    );
    refused(
      () =>
        renderUnit({
          service: "web",
          mode: "isolated",
          exec: "/usr/bin/node /home/ann/app.mjs",
          resolvePath: (p) => p,
        }),
      /an argument of --exec is \/home\/ann\/app\.mjs, under a home directory/,
    );
  });

  it("checks a path given after '=' in an argument (--config=/tmp/x) as it does a whole argument", () => {
    const here = new Set(["/tmp/app/conf.json", "/opt/app/conf.json", "/home/ann/app.mjs"]);
    const resolvePath = (p: string) => (here.has(p) ? p : undefined);
    refused(
      () =>
        renderUnit({
          service: "web",
          mode: "isolated",
          exec: "/usr/bin/app --config=/tmp/app/conf.json",
          resolvePath,
        }),
      /an argument of --exec \(--config=\/tmp\/app\/conf\.json\) is \/tmp\/app\/conf\.json, under \/tmp, which the unit's PrivateTmp=yes hides/,
    );
    refused(
      () =>
        renderUnit({
          service: "web",
          mode: "isolated",
          exec: "/usr/bin/app input=/home/ann/app.mjs",
          resolvePath,
        }),
      /an argument of --exec \(input=\/home\/ann\/app\.mjs\) is \/home\/ann\/app\.mjs, under a home directory/,
    );
    // Visible paths, and one the service makes in its own /tmp, are fine.
    assert.doesNotThrow(() =>
      renderUnit({
        service: "web",
        mode: "isolated",
        exec: "/usr/bin/app --config=/opt/app/conf.json --pidfile=/tmp/web.pid",
        resolvePath,
      }),
    );
  });

  it("a standard service sees the whole file system: /tmp is not refused there", () => {
    assert.doesNotThrow(() => renderUnit({ service: "web", mode: "standard", exec: "/tmp/app/run" }));
  });

  it("binds a job configuration under a home read-only, as it does keyhold and node", () => {
    const { files } = renderUnit({
      service: "keyhold-jobs",
      mode: "jobserver",
      keyholdRoot: "/home/ops/keyhold",
      config: "/home/ops/jobs.json",
    });
    const content = files[0]?.content ?? "";
    assert.match(content, /^BindReadOnlyPaths=\/home\/ops\/keyhold$/m);
    assert.match(content, /^BindReadOnlyPaths=\/home\/ops\/jobs\.json$/m);
    assert.match(content, /^ProtectHome=tmpfs$/m);
  });

  it("refuses vault answerers whose keyhold is under /tmp, in every mode", () => {
    refused(
      () =>
        renderUnit({
          service: "web",
          mode: "standard",
          exec: "/usr/bin/true",
          keyholdRoot: "/tmp/keyhold",
          vault: [{ ns: "weather", name: "api_key" }],
        }),
      /the keyhold directory \(read by the vault's answering units\) is \/tmp\/keyhold/,
    );
    refused(
      () =>
        renderUnit({
          service: "web",
          mode: "standard",
          exec: "/usr/bin/true",
          store: "/var/tmp/credstore",
          vault: [{ ns: "weather", name: "api_key" }],
        }),
      /the store directory \(read by the vault's answering units\) is \/var\/tmp\/credstore/,
    );
  });
});

describe("unit: --exec reached through a symbolic link", () => {
  // /run/…/app is a link to a directory under /tmp: the sandbox follows it into its own empty /tmp.
  function withLinkedApp(body: (linked: string) => void): void {
    const app = mkdtempSync(join(tmpdir(), "keyhold-unit-app-"));
    const link = mkdtempSync("/run/keyhold-unit-link-");
    try {
      writeFileSync(join(app, "main.py"), "print('hello')\n", { mode: 0o755 });
      symlinkSync(app, join(link, "app"));
      body(join(link, "app"));
    } finally {
      rmSync(app, { recursive: true, force: true });
      rmSync(link, { recursive: true, force: true });
    }
  }

  it("refuses a script whose path outside /tmp is a link into /tmp (the service would meet its empty /tmp)", () => {
    withLinkedApp((linked) => {
      const r = runCli(["unit", "web", "--mode", "isolated", "--exec", `/usr/bin/python3 ${linked}/main.py`]);
      assert.equal(r.status, 2, `rendered a unit whose script the sandbox hides:\n${r.stdout}`);
      assert.match(
        r.stderr,
        /main\.py leads there\) is \/tmp\/.*, under \/tmp, which the unit's PrivateTmp=yes hides/,
      );
    });
  });

  it("refuses a program reached through such a link, and renders one whose link stays outside", () => {
    withLinkedApp((linked) => {
      const r = runCli(["unit", "web", "--mode", "isolated", "--exec", `${linked}/main.py --port 80`]);
      assert.equal(r.status, 2, `rendered a unit whose program the sandbox hides:\n${r.stdout}`);
      assert.match(r.stderr, /the program of --exec \(.*main\.py leads there\) is \/tmp\//);
    });
    const ok = runCli(["unit", "web", "--mode", "isolated", "--exec", "/usr/bin/python3 /usr/bin/python3"]);
    assert.equal(ok.status, 0, ok.stderr);
  });
});
