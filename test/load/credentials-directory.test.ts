import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Secret } from "../../src/index.js";
import { createCredentialsDirectory, removeCredentialsDirectory } from "../../src/load/index.js";
import { makeCanary } from "../support/scratch.js";

function fsType(path: string): string {
  // The last line is the mount on top when several are stacked on one point.
  return (
    execFileSync("findmnt", ["-n", "-o", "FSTYPE", "--target", path], { encoding: "utf8" })
      .trim()
      .split("\n")
      .at(-1) ?? ""
  );
}

describe("createCredentialsDirectory", () => {
  it("lays out 0400 files in a 0500 directory on ramfs (root) and removes them", (t) => {
    if (process.geteuid?.() !== 0) return t.skip("ramfs mounts need root");
    const parent = mkdtempSync(join("/run", "keyhold-test-"));
    const value = makeCanary();
    const dir = createCredentialsDirectory([{ name: "api_key", value: Secret.fromString(value) }], {
      parent,
    });
    try {
      assert.equal(dir.filesystem, "ramfs");
      assert.equal(fsType(dir.path), "ramfs");
      assert.equal(statSync(dir.path).mode & 0o777, 0o500);
      assert.equal(statSync(join(dir.path, "api_key")).mode & 0o777, 0o400);
      assert.equal(readFileSync(join(dir.path, "api_key"), "utf8"), value);
    } finally {
      dir.remove();
      rmSync(parent, { recursive: true, force: true });
    }
    assert.equal(existsSync(dir.path), false);
  });

  it("gives the files to the user that will read them, the directory only through its group", (t) => {
    if (process.geteuid?.() !== 0) return t.skip("chown needs root");
    const parent = mkdtempSync(join("/run", "keyhold-test-"));
    const dir = createCredentialsDirectory([{ name: "k", value: Secret.fromString(makeCanary()) }], {
      parent,
      uid: 65534,
      gid: 65534,
    });
    try {
      // The reader can list and read but never add, rename or replace an entry.
      const st = statSync(dir.path);
      assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [0, 65534, 0o550]);
      assert.equal(statSync(join(dir.path, "k")).uid, 65534);
      // Nor chmod and grow its own file: the files are on a read-only ramfs of their own.
      assert.equal(fsType(dir.path), "ramfs");
      assert.throws(() => chmodSync(join(dir.path, "k"), 0o600), { code: "EROFS" });
    } finally {
      dir.remove();
    }
    assert.deepEqual(readdirSync(parent), [], "removed, its mount with it");
    rmSync(parent, { recursive: true, force: true });
  });

  it("falls back to the parent's tmpfs when asked not to mount", () => {
    const parent = mkdtempSync(join("/dev/shm", "keyhold-test-"));
    const dir = createCredentialsDirectory([{ name: "k", value: Secret.fromString("v") }], {
      parent,
      ramfs: false,
    });
    try {
      assert.equal(dir.filesystem, "tmpfs");
      assert.equal(fsType(dir.path), "tmpfs");
    } finally {
      dir.remove();
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it("removes a directory left behind by a killed process, mount included", (t) => {
    if (process.geteuid?.() !== 0) return t.skip("ramfs mounts need root");
    const parent = mkdtempSync(join("/run", "keyhold-test-"));
    const dir = createCredentialsDirectory([{ name: "k", value: Secret.fromString("v") }], { parent });
    removeCredentialsDirectory(dir.path);
    assert.equal(existsSync(dir.path), false);
    rmSync(parent, { recursive: true, force: true });
  });

  it("refuses a parent on a disk file system: plaintext never reaches a disk", () => {
    const parent = mkdtempSync(join(process.cwd(), ".keyhold-test-"));
    try {
      assert.throws(
        () =>
          createCredentialsDirectory([{ name: "k", value: Secret.fromString("v") }], {
            parent,
            ramfs: false,
          }),
        { code: "NOT_MEMORY_FS" },
      );
      assert.deepEqual(execFileSync("ls", ["-A", parent], { encoding: "utf8" }), "");
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it("refuses invalid names and leaves nothing behind", () => {
    const parent = mkdtempSync(join(tmpdir(), "keyhold-test-"));
    assert.throws(
      () => createCredentialsDirectory([{ name: "../x", value: Secret.fromString("v") }], { parent }),
      {
        code: "INVALID_NAME",
      },
    );
    assert.deepEqual(execFileSync("ls", ["-A", parent], { encoding: "utf8" }), "");
    rmSync(parent, { recursive: true, force: true });
  });
});
