import assert from "node:assert/strict";
import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { writeFileAtomicAsync } from "../../src/durable/index.js";
import { makeScratch, type Scratch } from "../support/scratch.js";

/**
 * writeFileAtomicAsync, the atomic write a server uses (its flushes on the thread pool), keeps
 * what writeFileAtomic promises: the whole new file or the old one, the exact mode whatever the
 * umask, never a write through a symbolic link, and nothing left behind when it fails.
 */

describe("writeFileAtomicAsync", () => {
  let scratch: Scratch;
  let dir: string;
  before(() => {
    scratch = makeScratch("keyhold-atomic-");
    dir = join(scratch.root, "files");
    mkdirSync(dir, { mode: 0o755 });
  });
  after(() => scratch.cleanup());

  const temporaries = () => readdirSync(dir).filter((f) => f.includes(".tmp-"));

  it("replaces a file whole, with the exact mode, and leaves no temporary file", async () => {
    const path = join(dir, "record.json");
    writeFileSync(path, "old\n", { mode: 0o600 });
    const umask = process.umask(0o077);
    try {
      await writeFileAtomicAsync(path, "new\n", { mode: 0o644 });
    } finally {
      process.umask(umask);
    }
    assert.equal(readFileSync(path, "utf8"), "new\n");
    assert.equal(statSync(path).mode & 0o777, 0o644);
    assert.deepEqual(temporaries(), []);
  });

  it("replaces a symbolic link at the path, never the file it points to", async () => {
    const victim = join(scratch.root, "victim");
    writeFileSync(victim, "untouched\n", { mode: 0o600 });
    const path = join(dir, "link.json");
    symlinkSync(victim, path);
    await writeFileAtomicAsync(path, "new\n");
    assert.equal(readFileSync(victim, "utf8"), "untouched\n");
    assert.ok(lstatSync(path).isFile());
    assert.equal(readFileSync(path, "utf8"), "new\n");
  });

  it("fails as the rename fails, leaving what was there and no temporary file", async () => {
    const path = join(dir, "a-directory");
    mkdirSync(path);
    await assert.rejects(writeFileAtomicAsync(path, "new\n"), { code: "EISDIR" });
    assert.ok(statSync(path).isDirectory());
    assert.deepEqual(temporaries(), []);
  });
});
