import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { deflateRawSync, gzipSync } from "node:zlib";
import { MAX_ARCHIVE_DEPTH, MAX_ARCHIVE_MEMBERS } from "../../src/scan/archives.js";
import { renderText, Scanner, scanHistory, scanStaged, scanTree } from "../../src/scan/index.js";
import { makeScratch, type Scratch } from "../support/scratch.js";
import { git, initRepository, runKeyhold } from "./support/repo.js";
import { expandTemplate, KEY_TEMPLATES, SeededRandom } from "./support/synthetic.js";

/*
 * Archives in a tree or in history are opened and their members scanned (src/scan/archives.ts).
 * Every archive here is written at test time: by the small writers below (which can also write
 * what no tool would: lying sizes, `../` names, bombs) and, where installed, by zip(1) and tar(1).
 */

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

interface ZipEntry {
  name: string | Buffer;
  data: Buffer | string;
  /** Store instead of deflate. */
  stored?: boolean;
  /** The uncompressed size written into the headers (a liar's). */
  declared?: number;
}

/** A zip file: local headers, data, central directory, end record. */
function zip(entries: readonly ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.isBuffer(e.name) ? e.name : Buffer.from(e.name);
    const data = Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data);
    const packed = e.stored ? data : deflateRawSync(data);
    const size = e.declared ?? data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(e.stored ? 0 : 8, 8);
    local.writeUInt32LE(crc32(data), 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(e.stored ? 0 : 8, 10);
    central.writeUInt32LE(crc32(data), 16);
    central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, packed);
    centrals.push(central, name);
    offset += 30 + name.length + packed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** A ustar archive (names up to 100 bytes, written as given: `../` included). */
function tar(entries: readonly { name: string; data: Buffer | string }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data);
    const header = Buffer.alloc(512);
    header.write(e.name, 0, 100, "utf8");
    header.write("0000644\0", 100, "latin1");
    header.write("0000000\0", 108, "latin1");
    header.write("0000000\0", 116, "latin1");
    header.write(`${data.length.toString(8).padStart(11, "0")}\0`, 124, "latin1");
    header.write("00000000000\0", 136, "latin1");
    header.write("        ", 148, "latin1");
    header.write("0", 156, "latin1");
    header.write("ustar\x0000", 257, "latin1");
    let sum = 0;
    for (const b of header) sum += b;
    header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function has(tool: string): boolean {
  return spawnSync(tool, ["--version"], { stdio: "ignore" }).status === 0;
}

describe("archives are opened and their members scanned", () => {
  const random = new SeededRandom("keyhold-archives");
  const key = () => expandTemplate(KEY_TEMPLATES["github-token"]!, random);
  let scratch: Scratch;
  let n = 0;
  const dir = () => {
    const d = join(scratch.root, `t${n++}`);
    mkdirSync(d, { recursive: true });
    return d;
  };
  before(() => {
    scratch = makeScratch("keyhold-archives-");
  });
  after(() => scratch.cleanup());

  const envFile = (value: string) => `# settings\nGITHUB_TOKEN=${value}\n`;

  it("finds a key in a zip, a tar and a tar.gz in the tree, named by member, line and column", async () => {
    const d = dir();
    const [a, b, c] = [key(), key(), key()];
    writeFileSync(join(d, "bundle.zip"), zip([{ name: "inner/", data: "" }, { name: "inner/app.env", data: envFile(a) }]));
    writeFileSync(join(d, "plain.tar"), tar([{ name: "conf/app.env", data: envFile(b) }]));
    writeFileSync(join(d, "release.tgz"), gzipSync(tar([{ name: "deploy/.env", data: envFile(c) }])));
    writeFileSync(join(d, "notes.txt"), "nothing here\n");
    const result = await scanTree(d, { allFiles: true });
    const places = result.findings.map((f) => `${f.path}:${f.line}:${f.column}`).sort();
    assert.deepEqual(places, [
      "bundle.zip!inner/app.env:2:14",
      "plain.tar!conf/app.env:2:14",
      "release.tgz!deploy/.env:2:14",
    ]);
    assert.equal(result.stats.scanned, 4);
    assert.deepEqual(result.stats.skipped, {});
    assert.deepEqual(result.stats.warnings, []);
  });

  it("reads what zip(1) and tar(1) write (data descriptors, pax headers, long names)", async (t) => {
    if (!has("zip") || !has("tar")) {
      t.skip("zip or tar is not installed");
      return;
    }
    const d = dir();
    const src = join(d, "src");
    const long = `${"deep/".repeat(30)}app.env`;
    mkdirSync(join(src, "deep/".repeat(30)), { recursive: true });
    writeFileSync(join(src, long), envFile(key()));
    writeFileSync(join(src, "small.env"), envFile(key()));
    execFileSync("zip", ["-qr", join(d, "out.zip"), "."], { cwd: src });
    // zip reading standard input writes a data descriptor after each member.
    execFileSync("zip", ["-q", "-fd", join(d, "piped.zip"), "-"], { cwd: src, input: envFile(key()) });
    execFileSync("tar", ["--format=pax", "-czf", join(d, "out.tar.gz"), "."], { cwd: src });
    execFileSync("tar", ["--format=gnu", "-cf", join(d, "gnu.tar"), "."], { cwd: src });
    execFileSync("rm", ["-r", src]);
    const result = await scanTree(d, { allFiles: true });
    const paths = result.findings.map((f) => f.path).sort();
    assert.deepEqual(paths, [
      `gnu.tar!./${long}`,
      "gnu.tar!./small.env",
      `out.tar.gz!./${long}`,
      "out.tar.gz!./small.env",
      `out.zip!${long}`,
      "out.zip!small.env",
      "piped.zip!-",
    ]);
    assert.deepEqual(result.stats.skipped, {});
  });

  it("finds a key in a staged archive, and in one committed and deleted in history, named by member", async () => {
    const d = initRepository(dir());
    writeFileSync(join(d, "dist.zip"), zip([{ name: "config/prod.env", data: envFile(key()) }]));
    git(d, ["add", "dist.zip"]);
    const staged = await scanStaged(d);
    assert.deepEqual(staged.findings.map((f) => f.path), ["dist.zip!config/prod.env"]);
    git(d, ["commit", "-qm", "add the bundle"]);
    git(d, ["rm", "-q", "dist.zip"]);
    git(d, ["commit", "-qm", "remove the bundle"]);
    const result = await scanHistory(d);
    assert.deepEqual(
      result.findings.map((f) => `${f.path}:${f.line}:${f.column}`),
      ["dist.zip!config/prod.env:2:14"],
    );
    assert.match(result.findings[0]!.commit ?? "", /^[0-9a-f]{40}$/);
    const cli = runKeyhold(["scan", "--history"], { cwd: d, env: {} });
    assert.equal(cli.code, 3, cli.stderr);
    assert.match(cli.stdout, /dist\.zip!config\/prod\.env:2:14/);
    // The value cannot be rewritten inside a compressed archive: the advice is to remove it.
    assert.match(
      result.findings[0]!.remediation.rewrite,
      /^remove the archive from all of history: git filter-repo --invert-paths --path dist\.zip /,
    );
  });

  it(`opens archives nested ${MAX_ARCHIVE_DEPTH} deep and reports the one deeper`, async () => {
    const d = dir();
    const deepest = zip([{ name: "too-deep.env", data: envFile(key()) }]);
    const level3 = zip([
      { name: "app.env", data: envFile(key()) },
      { name: "level4.zip", data: deepest },
    ]);
    const level2 = tar([{ name: "level3.zip", data: level3 }]);
    writeFileSync(join(d, "level1.tgz"), gzipSync(tar([{ name: "level2.tar", data: level2 }])));
    const result = await scanTree(d, { allFiles: true });
    assert.deepEqual(
      result.findings.map((f) => f.path),
      ["level1.tgz!level2.tar!level3.zip!app.env"],
    );
    assert.deepEqual(result.stats.skipped, { "archive-depth": 1 });
    assert.deepEqual(result.stats.warnings, [
      `level1.tgz!level2.tar!level3.zip!level4.zip: an archive nested deeper than ${MAX_ARCHIVE_DEPTH} levels was not opened`,
    ]);
    const cli = runKeyhold(["scan", "--all-files", d], { cwd: d, env: {} });
    assert.equal(cli.code, 3, cli.stderr);
    assert.match(cli.stdout, /skipped: 1 archive-depth/);
    assert.match(cli.stderr, /keyhold: warning: level1\.tgz!level2\.tar!level3\.zip!level4\.zip: an archive nested deeper/);
  });

  it("stops a zip bomb and a gzip bomb at the byte budget and reports them", async () => {
    const d = dir();
    const zeros = Buffer.alloc(64 * 1024 * 1024);
    const later = key();
    // An honest header (64 MiB declared), a lying one (1 KiB declared), and a tar.gz of 64 MiB.
    writeFileSync(
      join(d, "honest.zip"),
      zip([{ name: "zeros.txt", data: zeros }, { name: "later.env", data: envFile(later) }]),
    );
    writeFileSync(join(d, "liar.zip"), zip([{ name: "zeros.txt", data: zeros, declared: 1024 }]));
    writeFileSync(join(d, "bomb.tgz"), gzipSync(tar([{ name: "zeros.txt", data: zeros }])));
    for (const name of ["honest.zip", "liar.zip", "bomb.tgz"]) {
      const { size } = statSync(join(d, name));
      assert.ok(size < 1024 * 1024, `${name} is ${size} bytes`);
    }
    const result = await scanTree(d, { allFiles: true }, { maxSize: 4 * 1024 * 1024 });
    assert.deepEqual(result.findings, []);
    assert.deepEqual(result.stats.skipped, { "archive-bytes": 3 });
    assert.equal(result.stats.warnings.length, 3);
    for (const w of result.stats.warnings) assert.match(w, /(?:byte budget|more than \d+ bytes).*the rest of it was not scanned$/);
    const text = renderText(result);
    assert.match(text, /skipped: 3 archive-bytes/);
  });

  it("counts members past the limit", () => {
    const entries = Array.from({ length: MAX_ARCHIVE_MEMBERS + 5 }, (_, i) => ({
      name: `m${i}.txt`,
      data: "x\n",
      stored: true,
    }));
    const scanner = new Scanner();
    scanner.scan("many.zip", zip(entries));
    assert.equal(scanner.stats.scanned, MAX_ARCHIVE_MEMBERS);
    assert.deepEqual(scanner.stats.skipped, { "archive-members": 1 });
  });

  it("counts a corrupt archive and goes on with the rest of the tree", async () => {
    const d = dir();
    const good = zip([{ name: "a.env", data: envFile(key()) }]);
    const badTar = tar([{ name: "a.env", data: envFile(key()) }]);
    badTar.writeUInt8(badTar.readUInt8(0) ^ 1, 0); // the checksum no longer adds up
    const lying = zip([{ name: "a.env", data: "short\n" }]);
    lying.writeUInt32LE(0x7fffffff, lying.length - 22 + 16); // the directory's offset, past the end
    writeFileSync(join(d, "truncated.zip"), good.subarray(0, good.length - 30));
    writeFileSync(join(d, "bad.tar"), badTar);
    writeFileSync(join(d, "noise.tgz"), Buffer.from(random.chars("alnum", 300)));
    writeFileSync(join(d, "offset.zip"), lying);
    writeFileSync(join(d, "empty.zip"), "");
    writeFileSync(join(d, "app.env"), envFile(key()));
    const result = await scanTree(d, { allFiles: true });
    assert.deepEqual(result.findings.map((f) => f.path), ["app.env"]);
    assert.deepEqual(result.stats.skipped, { "archive-corrupt": 5 });
    assert.equal(result.stats.warnings.length, 5);
  });

  it("takes `../`, absolute and control-character member names as labels only: nothing is written, nothing unescaped", async () => {
    const d = dir();
    const inside = join(d, "tree");
    mkdirSync(inside);
    writeFileSync(
      join(inside, "evil.tar"),
      tar([
        { name: "../../escaped/app.env", data: envFile(key()) },
        { name: "/etc/keyhold-archive-test.env", data: envFile(key()) },
        { name: "\x1b[31mred\nfake.env", data: envFile(key()) },
      ]),
    );
    writeFileSync(join(inside, "evil.zip"), zip([{ name: "../../../zip-escaped.env", data: envFile(key()) }]));
    const result = await scanTree(inside, { allFiles: true });
    assert.deepEqual(result.findings.map((f) => f.path).sort(), [
      "evil.tar!\x1b[31mred\nfake.env",
      "evil.tar!../../escaped/app.env",
      "evil.tar!/etc/keyhold-archive-test.env",
      "evil.zip!../../../zip-escaped.env",
    ]);
    // A name with a terminal escape and a newline is written escaped: it cannot fake a line.
    const text = renderText(result);
    assert.ok(!text.includes("\x1b"));
    assert.match(text, /^evil\.tar!\\x1b\[31mred\\x0afake\.env:2:14: /m);
    assert.deepEqual(readdirSync(d), ["tree"]);
    assert.deepEqual(readdirSync(inside).sort(), ["evil.tar", "evil.zip"]);
    assert.equal(existsSync("/etc/keyhold-archive-test.env"), false);
  });

  it("still skips and counts other binary files", async () => {
    const d = dir();
    writeFileSync(join(d, "logo.png"), Buffer.from(envFile(key())));
    writeFileSync(join(d, "data.bin"), Buffer.concat([Buffer.from([0]), Buffer.from(envFile(key()))]));
    writeFileSync(join(d, "x.gz"), gzipSync(envFile(key())));
    // A member that is binary is skipped the same way, and counted.
    writeFileSync(join(d, "assets.zip"), zip([{ name: "logo.png", data: "x" }, { name: "blob", data: "\0x" }]));
    const result = await scanTree(d, { allFiles: true });
    assert.deepEqual(result.findings, []);
    assert.deepEqual(result.stats.skipped, { binary: 5 });
  });
});
