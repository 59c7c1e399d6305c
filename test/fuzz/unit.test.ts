import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isSecretError } from "../../src/secret/index.js";
import { verifyUnits } from "../../src/systemd/index.js";
import { renderUnit } from "../../src/units/index.js";
import { makeCanary, makeScratch, type Scratch } from "../support/scratch.js";

/**
 * Findings of fuzz/targets/unit.fuzz.mjs: options that made renderUnit write a unit systemd reads
 * differently from how keyhold wrote it. systemd joins a line ending in '\' with the next one
 * (so the next directive vanished: Requires=, StateDirectoryMode=0700, RuntimeDirectoryMode=0700)
 * and expands '%' specifiers in Description=. And a key inside an --exec word that also holds a blank
 * (`\ KEY`, or a quoted `"Bearer KEY"`) was accepted: the whole word was judged, never its pieces.
 */

const refusedUsage = (options: Parameters<typeof renderUnit>[0]) =>
  assert.throws(
    () => renderUnit(options),
    (err) => isSecretError(err, "USAGE"),
  );

describe("renderUnit findings of the fuzzer", () => {
  let scratch: Scratch;
  before(() => {
    scratch = makeScratch("keyhold-fuzz-unit-");
  });
  after(() => scratch.cleanup());

  it("refuses a description ending in a backslash (it would swallow Requires=)", () => {
    refusedUsage({ mode: "jobserver", service: "demo", description: "ends with \\" });
    refusedUsage({ mode: "standard", service: "demo", exec: "/bin/true", description: "x\\" });
  });

  it("refuses a service name ending in a backslash (StateDirectory= would swallow its mode)", () => {
    refusedUsage({ mode: "jobserver", service: "svc\\" });
    refusedUsage({ mode: "isolated", service: "svc\\.service", exec: "/bin/true" });
  });

  it("refuses control characters in the description", () => {
    refusedUsage({ mode: "standard", service: "demo", exec: "/bin/true", description: "a\x1b[31mred" });
    refusedUsage({ mode: "standard", service: "demo", exec: "/bin/true", description: "tab\there" });
  });

  it("writes a '%' of a credential name as '%%' in LoadCredentialEncrypted= (a specifier otherwise)", () => {
    const rendered = renderUnit({
      mode: "standard",
      service: "web",
      exec: "/bin/true",
      credentials: [".%.", "a%h"],
    });
    const loads = rendered.files[0]!.content.split("\n").filter((l) =>
      l.startsWith("LoadCredentialEncrypted="),
    );
    assert.deepEqual(loads, [
      "LoadCredentialEncrypted=.%%.:/etc/credstore.encrypted/.%%.",
      "LoadCredentialEncrypted=a%%h:/etc/credstore.encrypted/a%%h",
    ]);
  });

  it("refuses a credential name that begins or ends with a blank (systemd strips it from the line)", () => {
    for (const name of [" ", " key", "key ", "key :/etc/credstore.encrypted/key"])
      refusedUsage({ mode: "standard", service: "web", exec: "/bin/true", credentials: [name] });
  });

  it("refuses a tab inside an --exec word (it reached ExecStart= as a raw control character)", () => {
    refusedUsage({ mode: "jobserver", service: "web", exec: "/usr/bin/app\t\\\t\t" });
    refusedUsage({ mode: "standard", service: "web", exec: "/usr/bin/app 'a\tb'" });
    assert.doesNotThrow(() =>
      renderUnit({ mode: "standard", service: "web", exec: "/usr/bin/app\t--flag\tx" }),
    );
  });

  it("refuses a key joined to a blank in one --exec word (escaped or quoted)", () => {
    const key = makeCanary("unit");
    for (const exec of [
      `/usr/bin/app \\ ${key} /opt/app/run`,
      `/usr/bin/app a\\ ${key}`,
      `/usr/bin/curl -H "Authorization: Bearer ${key}" https://api.example`,
      `/usr/bin/app '--header=X-Key: ${key}'`,
    ]) {
      assert.throws(
        () => renderUnit({ mode: "standard", service: "app", exec }),
        (err) =>
          isSecretError(err, "SECRET_IN_COMMAND") && !`${err.message}\n${err.hint ?? ""}`.includes(key),
        exec,
      );
    }
    // Ordinary words with blanks are still accepted.
    assert.doesNotThrow(() =>
      renderUnit({ mode: "standard", service: "app", exec: `/usr/bin/app "--title=My App 2026" a\\ b` }),
    );
  });

  it("writes a '%' of the description so that systemd-analyze verify accepts it as typed", async () => {
    const rendered = renderUnit({
      mode: "jobserver",
      service: "pct",
      description: "50% done %z",
      node: "/bin/true",
      keyholdRoot: "/usr",
    });
    const paths = rendered.files.map((f) => {
      const path = join(scratch.root, f.path);
      writeFileSync(path, f.content);
      return path;
    });
    assert.match(rendered.files[0]!.content, /^Description=50%% done %%z$/m);
    const verify = await verifyUnits(paths);
    assert.deepEqual(verify.messages, []);
    assert.ok(verify.ok);
  });
});
