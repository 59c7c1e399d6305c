import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  findCredentialUsers,
  findVaultUsers,
  judgeByVersions,
  type VersionTimes,
  vaultRefOf,
} from "../../src/app/rollout-usage.js";
import { resolveLayout } from "../../src/credstore/index.js";
import type { UnitState } from "../../src/systemd/usage.js";
import { renderUnit } from "../../src/units/index.js";
import { makeScratch } from "../support/scratch.js";

/**
 * Which units receive a vault secret (`keyhold unit --vault`): their LoadCredentialEncrypted= names
 * keyhold's answering socket, /run/keyhold-vault/SERVICE/NS/NAME, and only SERVICE.service's own
 * start is answered; whether a running one holds the current version, from the vault's version
 * times.
 */

const scratch = makeScratch("keyhold-vault-usage-");
after(() => scratch.cleanup());

const load = (path: string) => ({ directive: "LoadCredentialEncrypted" as const, id: "openai", path });

describe("vaultRefOf", () => {
  it("reads SERVICE and NS/NAME from an answering socket's path", () => {
    assert.deepEqual(vaultRefOf(load("/run/keyhold-vault/billing-app/billing/openai")), {
      service: "billing-app",
      ref: "billing/openai",
    });
  });

  it("anything else is not a vault secret: other trees, other depths, names the vault refuses", () => {
    for (const path of [
      "/etc/credstore.encrypted/openai",
      "openai",
      "/run/keyhold-vault-other/svc/billing/openai",
      "/run/keyhold-vault/svc/billing",
      "/run/keyhold-vault/svc/billing/openai/extra",
      "/run/keyhold-vault/svc/../openai",
      "/run/keyhold-vault/svc/billing/..",
      "/run/keyhold-vault/svc/.hidden/openai",
      "/run/keyhold-vault/a:b/billing/openai",
      "/run/keyhold-vault//billing/openai",
    ])
      assert.equal(vaultRefOf(load(path)), undefined, path);
  });
});

function unitDir(name: string, files: Record<string, string>): string {
  const dir = join(scratch.root, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(join(dir, file, ".."), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  return dir;
}

describe("findVaultUsers (from the unit files)", () => {
  it("finds the unit `keyhold unit --vault` renders, and nothing of it in the credential store's users", async () => {
    const rendered = renderUnit({
      service: "billing-app",
      mode: "isolated",
      exec: "/usr/bin/node /srv/app.mjs",
      credentials: ["stripe_key"],
      vault: [
        { ns: "billing", name: "openai" },
        { ns: "shared", name: "db" },
      ],
    });
    const files = Object.fromEntries(rendered.files.map((f) => [f.path, f.content]));
    const dir = unitDir("rendered", files);
    const report = await findVaultUsers(() => undefined, { unitDirs: [dir], askSystemd: false });
    assert.deepEqual([...report.users.keys()].sort(), ["billing/openai", "shared/db"]);
    const user = report.users.get("billing/openai")?.[0];
    assert.equal(user?.unit, "billing-app.service");
    assert.equal(user?.id, "openai");
    assert.equal(user?.source, "unit-files");
    assert.equal(user?.running, false);
    assert.equal(user?.holds, null);
    // The store's own users: the store credential only; the vault sockets are not store files.
    const store = await findCredentialUsers(resolveLayout({ store: "/etc/credstore.encrypted" }), {
      unitDirs: [dir],
      askSystemd: false,
    });
    assert.deepEqual([...store.users.keys()], ["stripe_key"]);
  });

  it("a unit naming another service's socket receives nothing: noted, not listed", async () => {
    const dir = unitDir("impostor", {
      "other.service":
        "[Service]\nExecStart=/bin/true\nLoadCredentialEncrypted=openai:/run/keyhold-vault/billing-app/billing/openai\n",
      "billing-app.service.d/50-keyhold-credentials.conf":
        "[Service]\nLoadCredentialEncrypted=openai:/run/keyhold-vault/billing-app/billing/openai\n",
    });
    const report = await findVaultUsers(() => undefined, { unitDirs: [dir], askSystemd: false });
    assert.deepEqual(
      report.users.get("billing/openai")?.map((u) => u.unit),
      ["billing-app.service"],
    );
    assert.ok(
      report.notes.some((n) =>
        n.startsWith("other.service asks billing-app.service's socket for billing/openai"),
      ),
      report.notes.join("\n"),
    );
  });
});

describe("judgeByVersions", () => {
  const T = Date.parse("2026-12-01T10:00:00Z");
  const state = (start: number): UnitState => ({
    unit: "a.service",
    id: "a.service",
    loadState: "loaded",
    activeState: "active",
    subState: "running",
    fragmentPath: "",
    dropInPaths: [],
    needDaemonReload: false,
    invocationId: "x",
    mainPid: 1,
    inactiveExit: start - 5,
    mainStart: start,
    activeEnter: start + 5,
  });
  const times = (current: number, ...at: number[]): VersionTimes => ({
    current,
    written: at.map((a, i) => ({ version: i + 1, at: a })),
  });

  it("started before the current version was written: stale, certain", () => {
    const j = judgeByVersions(state(T - 60_000), times(2, T - 120_000, T));
    assert.equal(j.holds, "stale");
    assert.match(j.basis, /^certain: .*before version 2 was written/);
  });

  it("started after it, no later version by then: current, probably", () => {
    const j = judgeByVersions(state(T + 60_000), times(2, T - 120_000, T));
    assert.equal(j.holds, "current");
    assert.match(j.basis, /^probably: /);
  });

  it("starting while it was written: unsure", () => {
    assert.equal(judgeByVersions(state(T + 3), times(1, T)).holds, "unsure");
  });

  it("a later version written before its start, then a rollback: unsure (the vault keeps no rollback time)", () => {
    const j = judgeByVersions(state(T + 60_000), times(1, T - 120_000, T));
    assert.equal(j.holds, "unsure");
    assert.match(j.basis, /version 2 was written before it started/);
  });

  it("no version times (a secret not in the vault): unsure", () => {
    assert.equal(judgeByVersions(state(T), undefined).holds, "unsure");
  });
});
