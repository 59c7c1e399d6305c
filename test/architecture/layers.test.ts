import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { CHECKOUT } from "../support/checkout.js";

/**
 * The map in docs/architecture.md, kept: every module of src/ sits in a layer, and imports only
 * from its own layer or lower ones; a command file of src/cli/ imports no other command's file
 * (what two commands share lives in src/app/ or below). The test reads the sources themselves,
 * static and dynamic imports alike, so a new upward import fails here, not in review.
 */

/** Lowest first. A top-level file of src/ is named by its file name. */
const LAYERS: readonly (readonly string[])[] = [
  ["secret", "defaults.ts", "timing.ts"],
  ["durable"],
  ["systemd"],
  ["units"],
  ["load"],
  ["audit"],
  ["scan"],
  ["vault"],
  ["credstore"],
  ["jobs"],
  ["app"],
  ["cli"],
  ["index.ts"],
];

const SRC = join(CHECKOUT, "src");

function rankOf(file: string): number {
  const top = relative(SRC, file).split("/")[0] as string;
  const rank = LAYERS.findIndex((layer) => layer.includes(top));
  assert.notEqual(rank, -1, `${relative(CHECKOUT, file)} is in no layer: add ${top} to the table and docs/architecture.md`);
  return rank;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".d.ts"))
    .map((e) => join(e.parentPath, e.name));
}

/** Relative imports of a source file (static, re-exports and dynamic), resolved to .ts paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+)["']/g)) {
    out.push(resolve(dirname(file), (m[1] as string).replace(/\.js$/, ".ts")));
  }
  return out;
}

const isCommandFile = (file: string) => /\bdefineCommand\(\{|\bsubcommands:\s*\[/.test(readFileSync(file, "utf8"));
/** A command group's row (vault's): it lists the subcommands in its own directory. */
const isGroupFile = (file: string) => /\bsubcommands:\s*\[/.test(readFileSync(file, "utf8"));

describe("the layers of src/ (docs/architecture.md)", () => {
  const files = sources(SRC);

  it("the table finds every module, and the import reader finds imports of each kind", () => {
    assert.ok(files.length > 50, `found ${files.length} sources`);
    for (const file of files) rankOf(file);
    // main.ts loads commands through the registry with dynamic import()s; index.ts re-exports.
    const registry = importsOf(join(SRC, "cli", "commands.ts"));
    assert.ok(registry.some((t) => t.startsWith(join(SRC, "cli"))), "dynamic imports are read");
    assert.ok(importsOf(join(SRC, "index.ts")).includes(join(SRC, "secret", "index.ts")), "re-exports are read");
  });

  it("no module imports from a layer above its own", () => {
    const upward: string[] = [];
    for (const file of files) {
      const own = rankOf(file);
      for (const target of importsOf(file)) {
        if (!target.startsWith(`${SRC}/`)) continue;
        if (rankOf(target) > own) upward.push(`${relative(SRC, file)} imports ${relative(SRC, target)}`);
      }
    }
    assert.deepEqual(upward, [], "imports that point up a layer");
  });

  it("no command file in src/cli/ imports another command's file", () => {
    const commands = new Set(sources(join(SRC, "cli")).filter(isCommandFile));
    assert.ok(commands.size >= 8, `found ${commands.size} command files`);
    const crossing: string[] = [];
    for (const file of commands) {
      for (const target of importsOf(file)) {
        if (target === file || !commands.has(target)) continue;
        if (isGroupFile(file) && dirname(target) === dirname(file)) continue;
        crossing.push(`${relative(SRC, file)} imports ${relative(SRC, target)}`);
      }
    }
    assert.deepEqual(crossing, [], "a command reaching into another command");
  });
});
