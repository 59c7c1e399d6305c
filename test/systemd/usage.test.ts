import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { storeNameOf } from "../../src/app/rollout-usage.js";
import { judge } from "../../src/app/rollout-usage.js";
import { resolveLayout } from "../../src/credstore/index.js";
import { renderUnit } from "../../src/units/index.js";
import {
  parseUnitCredentials,
  parseUsTimestamp,
  scanUnitFiles,
  UNIT_FILE_MAX,
  type UnitState,
  unitObjectPath,
} from "../../src/systemd/usage.js";
import { makeScratch } from "../support/scratch.js";

/**
 * Which units load which credential, from the unit files: systemd's reading of sections,
 * comments, continuations, %% and empty assignments; hostile content (huge files, odd quoting,
 * FIFOs and links to devices, deep drop-in directories) read within bounds and never guessed at.
 */

const scratch = makeScratch("keyhold-usage-");
after(() => scratch.cleanup());

describe("parseUnitCredentials", () => {
  it("reads ID and ID:PATH forms of both directives in exec sections only", () => {
    const parsed = parseUnitCredentials(
      [
        "[Unit]",
        "LoadCredentialEncrypted=not_here",
        "[Service]",
        "ExecStart=/bin/true",
        "LoadCredentialEncrypted=api_key",
        "  LoadCredentialEncrypted  =  db:/etc/credstore.encrypted/db_password  ",
        "LoadCredential=plain:/etc/hostname",
        "# LoadCredentialEncrypted=commented",
        "; LoadCredentialEncrypted=commented_too",
        "[Install]",
        "LoadCredentialEncrypted=install_section",
      ].join("\n"),
    );
    assert.deepEqual(parsed.loads, [
      { directive: "LoadCredentialEncrypted", id: "api_key", path: "api_key" },
      { directive: "LoadCredentialEncrypted", id: "db", path: "/etc/credstore.encrypted/db_password" },
      { directive: "LoadCredential", id: "plain", path: "/etc/hostname" },
    ]);
    assert.deepEqual(parsed.unreadable, []);
  });

  it("joins continued lines, unescapes %% and records empty assignments", () => {
    const parsed = parseUnitCredentials(
      "[Service]\nLoadCredentialEncrypted=\\\nrate%%limit\r\nLoadCredential=\nLoadCredentialEncrypted=k:/s/a%%b\n",
    );
    // The continuation joins with a blank, which systemd then strips around the value.
    assert.deepEqual(
      parsed.loads.map((l) => [l.id, l.path]),
      [
        ["rate%limit", "rate%limit"],
        ["k", "/s/a%b"],
      ],
    );
    assert.deepEqual(parsed.resets, ["LoadCredential"]);
  });

  it("does not guess at quotes, escapes, blanks or instance specifiers: it names them", () => {
    const parsed = parseUnitCredentials(
      [
        "[Service]",
        'LoadCredentialEncrypted="quoted":/etc/credstore.encrypted/quoted',
        "LoadCredentialEncrypted=a\\x20b",
        "LoadCredentialEncrypted=two words",
        "LoadCredentialEncrypted=%N_key",
        "LoadCredentialEncrypted=:/nothing",
      ].join("\n"),
    );
    assert.deepEqual(parsed.loads, []);
    assert.equal(parsed.unreadable.length, 5);
  });

  it("a huge value is cut in what it reports and the number of entries is bounded", () => {
    const many = Array.from({ length: 5000 }, (_, i) => `LoadCredentialEncrypted=k${i}`).join("\n");
    const parsed = parseUnitCredentials(
      `[Service]\n${many}\nLoadCredentialEncrypted="${"x".repeat(100_000)}`,
    );
    assert.equal(parsed.loads.length, 1024);
    assert.ok((parsed.unreadable[0] ?? "").length < 200);
  });
});

describe("scanUnitFiles", () => {
  const root = join(scratch.root, "units");
  const etc = join(root, "etc");
  const lib = join(root, "lib");
  mkdirSync(join(etc, "app.service.d"), { recursive: true });
  mkdirSync(join(lib, "app.service.d"), { recursive: true });
  mkdirSync(join(lib, "other.service.d"), { recursive: true });
  writeFileSync(join(lib, "app.service"), "[Service]\nLoadCredentialEncrypted=from_lib\n");
  writeFileSync(
    join(etc, "app.service"),
    "[Service]\nExecStart=/bin/true\nLoadCredentialEncrypted=from_etc\n",
  );
  writeFileSync(join(lib, "app.service.d", "10-a.conf"), "[Service]\nLoadCredentialEncrypted=lib_dropin\n");
  writeFileSync(join(etc, "app.service.d", "10-a.conf"), "[Service]\nLoadCredentialEncrypted=etc_dropin\n");
  writeFileSync(join(etc, "app.service.d", "20-reset.conf"), "[Service]\nLoadCredential=\n");
  writeFileSync(
    join(lib, "other.service.d", "50-keyhold.conf"),
    "[Service]\nLoadCredentialEncrypted=k:/store/k\n",
  );
  writeFileSync(join(etc, "tmpl@.service"), "[Service]\nLoadCredentialEncrypted=tmpl_key\n");
  // Hostile entries: a FIFO (would block a plain read), links to /dev/zero and /dev/null (a masked
  // unit), a file one byte over the limit.
  execFileSync("mkfifo", [join(etc, "fifo.service")]);
  symlinkSync("/dev/zero", join(etc, "zero.service"));
  symlinkSync("/dev/null", join(etc, "masked.service"));
  writeFileSync(
    join(etc, "huge.service"),
    `[Service]\nLoadCredentialEncrypted=huge\n${"#".repeat(UNIT_FILE_MAX)}`,
  );
  // An enabled unit is a link into another directory: followed, as systemd does.
  writeFileSync(join(lib, "linked-target.service"), "[Service]\nLoadCredentialEncrypted=via_link\n");
  symlinkSync(join(lib, "linked-target.service"), join(etc, "linked.service"));

  it("applies directory precedence and drop-in order, follows links and skips what is not a bounded regular file", () => {
    const scan = scanUnitFiles([etc, lib]);
    const byUnit = new Map(scan.units.map((u) => [u.unit, u]));
    const app = byUnit.get("app.service");
    assert.ok(app);
    assert.deepEqual(
      app.loads.map((l) => l.id),
      ["from_etc", "etc_dropin"],
      "/etc hides /usr/lib's fragment and its drop-in of the same name",
    );
    assert.deepEqual(app.files, [
      join(etc, "app.service"),
      join(etc, "app.service.d", "10-a.conf"),
      join(etc, "app.service.d", "20-reset.conf"),
    ]);
    assert.deepEqual(
      byUnit.get("other.service")?.loads.map((l) => l.path),
      ["/store/k"],
      "a drop-in alone counts",
    );
    assert.equal(byUnit.get("tmpl@.service")?.template, true);
    assert.deepEqual(
      byUnit.get("linked.service")?.loads.map((l) => l.id),
      ["via_link"],
    );
    for (const hostile of ["fifo.service", "zero.service", "masked.service", "huge.service"]) {
      assert.equal(byUnit.has(hostile), false, hostile);
      assert.ok(
        scan.skipped.some((s) => s.includes(hostile)),
        `${hostile} is named as skipped`,
      );
    }
  });

  it("a link loop, a drop-in directory that is a link to /proc and a directory named like a unit are skipped", () => {
    const dir = join(root, "loops");
    mkdirSync(join(dir, "dir.service"), { recursive: true });
    symlinkSync(join(dir, "b.service"), join(dir, "a.service"));
    symlinkSync(join(dir, "a.service"), join(dir, "b.service"));
    symlinkSync("/proc", join(dir, "p.service.d"));
    writeFileSync(join(dir, "ok.service"), "[Service]\nLoadCredentialEncrypted=fine\n");
    const scan = scanUnitFiles([dir]);
    assert.deepEqual(
      scan.units.map((u) => u.unit),
      ["ok.service"],
    );
    for (const name of ["a.service", "b.service", "dir.service"])
      assert.ok(
        scan.skipped.some((s) => s.endsWith(`${name}: not a regular file of at most ${UNIT_FILE_MAX} bytes`)),
        name,
      );
  });

  it("an empty assignment in a later drop-in clears the directive's earlier entries", () => {
    const dir = join(root, "reset");
    mkdirSync(join(dir, "r.service.d"), { recursive: true });
    writeFileSync(
      join(dir, "r.service"),
      "[Service]\nLoadCredentialEncrypted=gone\nLoadCredential=kept:/x\n",
    );
    writeFileSync(
      join(dir, "r.service.d", "90.conf"),
      "[Service]\nLoadCredentialEncrypted=\nLoadCredentialEncrypted=new\n",
    );
    const r = scanUnitFiles([dir]).units.find((u) => u.unit === "r.service");
    assert.deepEqual(
      r?.loads.map((l) => l.id),
      ["kept", "new"],
    );
  });

  it("what keyhold unit renders is read back as the credentials it was given", () => {
    const dir = join(root, "rendered");
    const rendered = renderUnit({
      service: "svc",
      mode: "isolated",
      exec: "/usr/bin/node /srv/app.mjs",
      credentials: ["api_key", "db:other_file", "rate%limit"],
      store: "/etc/credstore.encrypted",
      health: "/usr/bin/node /srv/health.mjs",
    });
    for (const f of rendered.files) {
      mkdirSync(join(dir, f.path, ".."), { recursive: true });
      writeFileSync(join(dir, f.path), f.content);
    }
    const svc = scanUnitFiles([dir]).units.find((u) => u.unit === "svc.service");
    assert.deepEqual(
      svc?.loads.map((l) => `${l.id}=${l.path}`),
      rendered.credentials.map((c) => `${c.id}=${c.path}`),
    );
  });
});

describe("matching a load to the store", () => {
  const l = resolveLayout({ store: "/etc/credstore.encrypted", state: "/var/lib/keyhold", env: {} });
  it("an absolute path names the store's file; a bare name is searched; another directory is not the store", () => {
    assert.equal(
      storeNameOf(l, { directive: "LoadCredentialEncrypted", id: "x", path: "/etc/credstore.encrypted/k" }),
      "k",
    );
    assert.equal(
      storeNameOf(l, {
        directive: "LoadCredentialEncrypted",
        id: "x",
        path: "/etc/credstore.encrypted/sub/k",
      }),
      undefined,
    );
    assert.equal(
      storeNameOf(l, { directive: "LoadCredentialEncrypted", id: "x", path: "/elsewhere/k" }),
      undefined,
    );
    assert.equal(storeNameOf(l, { directive: "LoadCredentialEncrypted", id: "x", path: "../k" }), undefined);
  });
});

describe("judging a running unit", () => {
  const state = (inactiveExit: number, mainStart: number): UnitState => ({
    unit: "u.service",
    id: "u.service",
    loadState: "loaded",
    activeState: "active",
    subState: "running",
    fragmentPath: "",
    dropInPaths: [],
    needDaemonReload: false,
    invocationId: "x",
    mainPid: 1,
    inactiveExit,
    mainStart,
    activeEnter: mainStart,
  });
  it("started before the write: stale; began after it: current; spanning it: unsure", () => {
    assert.equal(judge(state(1000, 1001), 5000).holds, "stale");
    assert.equal(judge(state(6000, 6001), 5000).holds, "current");
    assert.equal(judge(state(4000, 6000), 5000).holds, "unsure");
    assert.equal(judge(state(1000, 1001), undefined).holds, "unsure");
  });
  it("after a rollback, a unit that started while the restored version was current holds it", () => {
    // v1 written at 500, v2 at 2000, rolled back to v1 at 5000.
    const versions = {
      current: 1,
      written: [
        { version: 1, at: 500 },
        { version: 2, at: 2000 },
      ],
    };
    assert.equal(judge(state(1000, 1001), 5000, versions).holds, "current", "started under v1");
    assert.equal(judge(state(3000, 3001), 5000, versions).holds, "stale", "started under v2");
    assert.equal(judge(state(100, 101), 5000, versions).holds, "stale", "started before v1 existed");
  });
  // set v1 at 1000, rotate to v2 at 2000, rollback to v1 at 3000, rollback --to 2 at 4000, rollback
  // to v1 again at 5000 (the store file's change time). Without the history, a unit started
  // between 2000 and 3000 or 4000 and 5000 holds v2 and one started between 3000 and 4000 holds v1,
  // but the write times alone cannot tell them apart.
  const written = [
    { version: 1, at: 1000 },
    { version: 2, at: 2000 },
  ];
  const history = [
    { version: 1, since: 1000 },
    { version: 2, since: 2000 },
    { version: 1, since: 3000 },
    { version: 2, since: 4000 },
    { version: 1, since: 5000 },
  ];
  it("with the history of current versions, each unit's version is known, however many rollbacks", () => {
    const versions = { current: 1, written, history };
    const cases: [number, "current" | "stale", string][] = [
      [1500, "current", "started under the set"],
      [2500, "stale", "started under the rotate"],
      [3500, "current", "started under the first rollback"],
      [4500, "stale", "started under the rollback to 2"],
      [5500, "current", "started after the second rollback to 1"],
    ];
    for (const [at, holds, why] of cases) {
      const judged = judge(state(at, at + 1), 5000, versions);
      assert.equal(judged.holds, holds, why);
      assert.match(judged.basis, /^certain: version \d+ was current when it started/, why);
    }
    // Without the history the same unit started under the first rollback is only guessed at.
    const guessed = judge(state(3500, 3501), 5000, { current: 1, written });
    assert.equal(guessed.holds, "stale");
    assert.match(guessed.basis, /^probably/);
    // Rolled forward to 2 at 4000: the unit started at 2500 holds it again, the one at 3500 does not.
    const atTwo = { current: 2, written, history: history.slice(0, 4) };
    assert.equal(judge(state(2500, 2501), 4000, atTwo).holds, "current");
    assert.equal(judge(state(3500, 3501), 4000, atTwo).holds, "stale");
    assert.match(
      judge(state(3500, 3501), 4000, atTwo).basis,
      /version 1 was current when it started; version 2 is current now/,
    );
  });
  it("with the history, a start within the clock margin of any change is unsure; an incomplete history falls back", () => {
    const versions = { current: 1, written, history };
    assert.equal(judge(state(2990, 3010), 5000, versions).holds, "unsure", "activation spans the rollback");
    assert.equal(judge(state(3005, 3006), 5000, versions).holds, "unsure", "within the margin after it");
    assert.equal(judge(state(3990, 3995), 5000, versions).holds, "unsure", "within the margin before one");
    // Started before the oldest change kept (a bounded list, or metadata older than the list): the
    // write times decide, as without it.
    const kept = { current: 1, written, history: history.slice(2) };
    assert.equal(judge(state(1500, 1501), 5000, kept).holds, "current");
    assert.match(judge(state(1500, 1501), 5000, kept).basis, /^probably/);
    // A history that does not end at the store file's last change (another writer) is not believed.
    const behind = { current: 1, written, history: history.slice(0, 3) };
    assert.match(judge(state(3500, 3501), 5000, behind).basis, /^probably/);
    // Nor one whose last entry is not the current version.
    const other = { current: 2, written, history };
    assert.match(judge(state(2500, 2501), 5000, other).basis, /^probably|^certain: its main process/);
  });
});

describe("systemd's formats", () => {
  it("reads systemctl's us+utc timestamps to the microsecond and nothing else", () => {
    assert.equal(
      parseUsTimestamp("Wed 2026-12-02 15:35:34.653582 UTC"),
      Date.UTC(2026, 11, 2, 15, 35, 34) + 653.582,
    );
    assert.equal(parseUsTimestamp(""), null);
    assert.equal(parseUsTimestamp("n/a"), null);
    assert.equal(parseUsTimestamp("Wed 2026-12-02 15:35:34 CET"), null);
  });
  it("escapes a unit name for its D-Bus object path as sd_bus_path_encode does", () => {
    assert.equal(unitObjectPath("p1.service"), "/org/freedesktop/systemd1/unit/p1_2eservice");
    assert.equal(unitObjectPath("1a-b.service"), "/org/freedesktop/systemd1/unit/_31a_2db_2eservice");
  });
});
