// Git output parsing (src/scan/git.ts): `scan --history` over a hostile repository. The input
// becomes a repository written object by object (so tree entries may have names `git add` would
// never make: newlines, control bytes, invalid UTF-8, leading ':' or "\x01"), then keyhold's
// own git calls list and read it. Invariants: GIT_FAILED, or every blob of every commit is
// listed exactly once under one of the paths it was committed at, and cat-file hands back each
// blob's exact bytes: a file name cannot hide a blob from the scan or make it read other bytes.
import { createHash } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { FuzzedDataProvider } from "@jazzer.js/core";
import { catFileBatch } from "../../dist/src/scan/git.js";
import { listHistoryObjects } from "../../dist/src/scan/git-history.js";
import { check, expectCoded, scratchDir } from "../support.mjs";

const root = scratchDir("git");
const repo = join(root, "repo");
const env = { PATH: "/usr/bin:/bin", HOME: root, GIT_CONFIG_NOSYSTEM: "1", LANG: "C" };

function writeObject(type, body) {
  const raw = Buffer.concat([Buffer.from(`${type} ${body.length}\0`), body]);
  const oid = createHash("sha1").update(raw).digest("hex");
  mkdirSync(join(repo, ".git/objects", oid.slice(0, 2)), { recursive: true });
  writeFileSync(join(repo, ".git/objects", oid.slice(0, 2), oid.slice(2)), deflateSync(raw));
  return oid;
}

/** A tree of entries {name: Buffer, mode, oid}, sorted as git sorts them. */
function writeTree(entries) {
  const key = (e) => (e.mode === "40000" ? Buffer.concat([e.name, Buffer.from("/")]) : e.name);
  const sorted = [...entries].sort((a, b) => Buffer.compare(key(a), key(b)));
  return writeObject(
    "tree",
    Buffer.concat(sorted.flatMap((e) => [Buffer.from(`${e.mode} `), e.name, Buffer.from([0]), Buffer.from(e.oid, "hex")])),
  );
}

function writeCommit(tree, parent, n) {
  const who = `Fuzz <fuzz@example.invalid> ${1700000000 + n} +0000`;
  const lines = [`tree ${tree}`, ...(parent ? [`parent ${parent}`] : []), `author ${who}`, `committer ${who}`, "", `commit ${n}`, ""];
  return writeObject("commit", Buffer.from(lines.join("\n")));
}

function name(p) {
  const bytes = Buffer.from(p.consumeBytes(p.consumeIntegralInRange(1, 12))).filter((b) => b !== 0);
  return bytes.length > 0 ? Buffer.from(bytes) : Buffer.from("f");
}

export async function fuzz(data) {
  const p = new FuzzedDataProvider(data);
  rmSync(repo, { recursive: true, force: true });
  mkdirSync(join(repo, ".git/objects"), { recursive: true });
  mkdirSync(join(repo, ".git/refs/heads"), { recursive: true });
  writeFileSync(join(repo, ".git/HEAD"), "ref: refs/heads/main\n");
  const expected = new Map(); // oid -> { bytes, paths }
  let parent = null;
  for (let n = 1; n <= p.consumeIntegralInRange(1, 2); n++) {
    const top = [];
    const sub = [];
    const used = new Set();
    for (let i = p.consumeIntegralInRange(1, 4); i > 0; i--) {
      const bytes = Buffer.from(p.consumeBytes(p.consumeIntegralInRange(0, 48)));
      const oid = writeObject("blob", bytes);
      const nested = p.consumeBoolean();
      const entryName = name(p);
      if (used.has(`${nested}:${entryName.toString("hex")}`)) continue;
      used.add(`${nested}:${entryName.toString("hex")}`);
      (nested ? sub : top).push({ name: entryName, mode: p.pickValue(["100644", "100755"]), oid });
      // Paths are bytes end to end: latin1 keeps every byte of a name as one character.
      const path = nested ? `d/${entryName.toString("latin1")}` : entryName.toString("latin1");
      const known = expected.get(oid) ?? { bytes, paths: new Set() };
      known.paths.add(path);
      expected.set(oid, known);
    }
    if (sub.length > 0 && !used.has(`false:${Buffer.from("d").toString("hex")}`)) {
      top.push({ name: Buffer.from("d"), mode: "40000", oid: writeTree(sub) });
    } else for (const e of sub) expected.get(e.oid)?.paths.delete(`d/${e.name.toString("latin1")}`);
    for (const [oid, known] of expected) if (known.paths.size === 0) expected.delete(oid);
    parent = writeCommit(writeTree(top), parent, n);
  }
  writeFileSync(join(repo, ".git/refs/heads/main"), `${parent}\n`);
  const options = { cwd: repo, env };
  let listed;
  try {
    listed = await listHistoryObjects(options, 1024);
  } catch (err) {
    expectCoded(err, ["GIT_FAILED"]);
    return;
  }
  const seen = new Map();
  for (const blob of listed.blobs) {
    check(!seen.has(blob.oid), `blob ${blob.oid} listed twice`);
    seen.set(blob.oid, blob);
  }
  for (const [oid, known] of expected) {
    const blob = seen.get(oid);
    check(blob !== undefined, `blob ${oid} at ${[...known.paths].map((x) => JSON.stringify(x)).join(", ")} is not listed`);
    check(known.paths.has(blob.path.toString("latin1")), `blob ${oid} listed at ${JSON.stringify(blob.path.toString("latin1"))}, committed at ${[...known.paths].map((x) => JSON.stringify(x)).join(", ")}`);
  }
  for await (const object of catFileBatch([...expected.keys()], { ...options, maxSize: 1024 })) {
    check(object.data?.equals(expected.get(object.oid).bytes), `cat-file read other bytes for ${object.oid}`);
  }
}
