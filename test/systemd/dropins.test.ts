import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { findCredentialUsers } from "../../src/app/rollout-usage.js";
import { resolveLayout } from "../../src/credstore/index.js";
import { dropInNames, scanUnitFiles } from "../../src/systemd/usage.js";
import { makeScratch } from "../support/scratch.js";

/**
 * Drop-ins a unit reads beyond UNIT.d/ (systemd.unit(5)): prefix directories (foo-.service.d/ for
 * foo-bar-baz.service), the template's for an instance, and the top-level service.d/ for every
 * service. A credential loaded only through one of them is still loaded: keyhold must see it, with
 * systemd's precedence (same file name: the earlier unit directory, then the more specific
 * directory; service.d/ last), masks and empty assignments.
 */

const scratch = makeScratch("keyhold-dropins-");
after(() => scratch.cleanup());

function tree(name: string, files: Record<string, string>): { etc: string; lib: string } {
  const root = join(scratch.root, name);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(join(root, file, ".."), { recursive: true });
    writeFileSync(join(root, file), text);
  }
  mkdirSync(join(root, "etc"), { recursive: true });
  mkdirSync(join(root, "lib"), { recursive: true });
  return { etc: join(root, "etc"), lib: join(root, "lib") };
}

const svc = (...lines: string[]) => `[Service]\n${lines.join("\n")}\n`;
const enc = (id: string) => `LoadCredentialEncrypted=${id}`;
const ids = (u: { loads: { id: string }[] } | undefined) => u?.loads.map((l) => l.id);

describe("the drop-in directories systemd searches for a unit", () => {
  it("cuts the name after each dash, keeps an instance, and reads a template's before the prefixes", () => {
    assert.deepEqual(dropInNames("a-b-c.service"), ["a-b-c.service", "a-b-.service", "a-.service"]);
    assert.deepEqual(dropInNames("foo-bar@x.service"), [
      "foo-bar@x.service",
      "foo-bar@.service",
      "foo-.service",
      "foo-@x.service",
      "foo-@.service",
    ]);
    assert.deepEqual(dropInNames("w@1.socket"), ["w@1.socket", "w@.socket"]);
    // A trailing dash is dropped once before cutting; a leading one ends it.
    assert.deepEqual(dropInNames("a--b.service"), ["a--b.service", "a--.service", "a-.service"]);
    assert.deepEqual(dropInNames("x-.service"), ["x-.service"]);
    assert.deepEqual(dropInNames("-x.service"), ["-x.service"]);
    assert.deepEqual(dropInNames("plain.service"), ["plain.service"]);
  });
});

describe("scanUnitFiles with prefix and top-level drop-ins", () => {
  const { etc, lib } = tree("layers", {
    // Units whose own files load nothing.
    "lib/foo-bar-baz.service": svc("ExecStart=/bin/true"),
    "lib/plain.service": svc("ExecStart=/bin/true"),
    "lib/sock.socket": "[Socket]\nListenStream=/run/x.sock\n",
    // A prefix drop-in; the same name in a more specific prefix directory of the same unit
    // directory wins; the same name in an earlier unit directory wins over a more specific one.
    "lib/foo-.service.d/10-k.conf": svc(enc("prefix_generic")),
    "lib/foo-bar-.service.d/10-k.conf": svc(enc("prefix_specific")),
    "lib/foo-bar-baz.service.d/20-x.conf": svc(enc("lib_exact")),
    "etc/foo-.service.d/20-x.conf": svc(enc("etc_prefix")),
    // The top-level drop-in: every service; a name-specific directory in any unit directory hides
    // a service.d/ file of the same name, even one in /etc.
    "lib/service.d/50-all.conf": svc(enc("every_service")),
    "etc/service.d/30-y.conf": svc(enc("etc_type_wide")),
    "lib/foo-bar-baz.service.d/30-y.conf": svc(enc("lib_specific_over_type")),
    // An empty assignment in a later prefix drop-in clears the type-wide one before it.
    "lib/bar-one.service": svc("ExecStart=/bin/true"),
    "lib/bar-.service.d/90-clear.conf": svc("LoadCredentialEncrypted=", enc("after_clear")),
    // A template: its instances read its drop-ins, their own, and an instance prefix's.
    "lib/w@.service": svc("ExecStart=/bin/true"),
    "lib/w@.service.d/10-t.conf": svc(enc("tmpl_key")),
    "etc/w@1.service.d/20-one.conf": svc(enc("one_key")),
    "lib/job-a@.service": svc("ExecStart=/bin/true"),
    "lib/job-@x.service.d/10-x.conf": svc(enc("x_key")),
    // A unit that masks the top-level file with a link to /dev/null of the same name.
    "lib/masker.service": svc("ExecStart=/bin/true"),
  });
  mkdirSync(join(etc, "masker.service.d"));
  symlinkSync("/dev/null", join(etc, "masker.service.d", "50-all.conf"));
  symlinkSync("/dev/null", join(etc, "masker.service.d", "30-y.conf"));
  // A masked unit loads nothing, whatever service.d/ says: a link to /dev/null, or an empty file.
  symlinkSync("/dev/null", join(etc, "masked.service"));
  writeFileSync(join(etc, "empty.service"), "");

  const scan = scanUnitFiles([etc, lib]);
  const byUnit = new Map(scan.units.map((u) => [u.unit, u]));

  it("a unit whose credential comes only from prefix and top-level drop-ins is found, with systemd's precedence", () => {
    const u = byUnit.get("foo-bar-baz.service");
    assert.deepEqual(ids(u), ["prefix_specific", "etc_prefix", "lib_specific_over_type", "every_service"]);
    assert.deepEqual(u?.files, [
      join(lib, "foo-bar-baz.service"),
      join(lib, "foo-bar-.service.d", "10-k.conf"),
      join(etc, "foo-.service.d", "20-x.conf"),
      join(lib, "foo-bar-baz.service.d", "30-y.conf"),
      join(lib, "service.d", "50-all.conf"),
    ]);
    assert.deepEqual(
      u?.loads.map((l) => l.typeWide),
      [false, false, false, true],
    );
  });

  it("the top-level drop-in reaches every service on disk and no other type; a mask or an empty assignment stops it", () => {
    assert.deepEqual(ids(byUnit.get("plain.service")), ["etc_type_wide", "every_service"]);
    assert.equal(byUnit.has("sock.socket"), false, "service.d/ is for services only");
    assert.deepEqual(ids(byUnit.get("bar-one.service")), ["after_clear"]);
    assert.equal(byUnit.has("masker.service"), false, "its /dev/null 50-all.conf masks service.d's");
    assert.deepEqual(scan.usageOf("masker.service"), undefined);
    for (const masked of ["masked.service", "empty.service"]) {
      assert.equal(byUnit.has(masked), false, masked);
      assert.ok(
        scan.skipped.some((s) => s.includes(`${masked}: masked`)),
        masked,
      );
    }
    // Prefix and type directories are not units.
    for (const notUnit of ["foo-.service", "foo-bar-.service", "bar-.service", "job-@x.service"])
      assert.equal(byUnit.has(notUnit), false, notUnit);
  });

  it("an instance reads its own, its template's and its instance prefix's drop-ins", () => {
    assert.equal(byUnit.get("w@.service")?.template, true);
    assert.deepEqual(ids(scan.usageOf("w@1.service")), [
      "tmpl_key",
      "one_key",
      "etc_type_wide",
      "every_service",
    ]);
    assert.deepEqual(ids(scan.usageOf("w@2.service")), ["tmpl_key", "etc_type_wide", "every_service"]);
    assert.deepEqual(scan.usageOf("w@2.service")?.files[0], join(lib, "w@.service"));
    assert.deepEqual(ids(scan.usageOf("job-a@x.service")), ["x_key", "etc_type_wide", "every_service"]);
    assert.deepEqual(ids(scan.usageOf("job-a@y.service")), ["etc_type_wide", "every_service"]);
  });

  it("names for systemd the units only it can list: instances, a prefix's units, every service", () => {
    // job-a@.service is a template whose files mention a credential (service.d/'s) like w@.service.
    assert.deepEqual(scan.patterns, [
      "*.service",
      "bar-*.service",
      "foo-*.service",
      "foo-bar-*.service",
      "job-*@x.service",
      "job-a@*.service",
      "w@*.service",
    ]);
  });
});

describe("bounds hold for drop-ins read on behalf of every unit", () => {
  it("a FIFO, a link to /dev/zero and an oversized file in service.d/ are skipped, each named once", () => {
    const { etc } = tree("hostile", {
      "etc/a.service": svc("ExecStart=/bin/true"),
      "etc/b.service": svc("ExecStart=/bin/true"),
      "etc/service.d/10-ok.conf": svc(enc("fine")),
      "etc/service.d/30-huge.conf": `${svc(enc("huge"))}${"#".repeat(1024 * 1024)}`,
    });
    execFileSync("mkfifo", [join(etc, "service.d", "20-fifo.conf")]);
    symlinkSync("/dev/zero", join(etc, "service.d", "25-zero.conf"));
    const scan = scanUnitFiles([etc]);
    assert.deepEqual(
      scan.units.map((u) => `${u.unit}=${ids(u)?.join(",")}`),
      ["a.service=fine", "b.service=fine"],
    );
    for (const bad of ["20-fifo.conf", "25-zero.conf", "30-huge.conf"])
      assert.equal(scan.skipped.filter((s) => s.includes(bad)).length, 1, bad);
  });
});

describe("who loads a store credential through a top-level or prefix drop-in (files only)", () => {
  it("a prefix drop-in's units are users; service.d/'s idle units are counted, not listed", async () => {
    const store = join(scratch.root, "store");
    const l = resolveLayout({ store, state: join(scratch.root, "state"), env: {} });
    const { etc } = tree("report", {
      "etc/app-web.service": svc("ExecStart=/bin/true"),
      "etc/app-worker.service": svc("ExecStart=/bin/true"),
      "etc/other.service": svc("ExecStart=/bin/true"),
      "etc/own.service": svc(enc(`proxy_key:${store}/proxy_key`)),
      "etc/app-.service.d/50-keyhold.conf": svc(enc(`api_key:${store}/api_key`)),
      "etc/service.d/50-proxy.conf": svc(enc(`proxy_key:${store}/proxy_key`)),
    });
    const report = await findCredentialUsers(l, { unitDirs: [etc], askSystemd: false });
    assert.deepEqual(
      report.users.get("api_key")?.map((u) => u.unit),
      ["app-web.service", "app-worker.service"],
    );
    // own.service loads it by its own file too: a user like any; the other three only through
    // service.d/, and none runs.
    assert.deepEqual(
      report.users.get("proxy_key")?.map((u) => u.unit),
      ["own.service"],
    );
    assert.deepEqual(report.typeWide.get("proxy_key"), [
      { dropIn: join(etc, "service.d", "50-proxy.conf"), unitType: "service", running: 0, notRunning: 3 },
    ]);
    assert.equal(report.typeWide.has("api_key"), false);
  });
});
