/**
 * `npm run bench`: runs every benchmark in bench/ (each a script of its own, so one part's
 * set-up cannot skew another's), one after another, printing Markdown for docs/benchmarks.md.
 * `npm run bench -- core scan` runs only those.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const skip = new Set(["run.js", "measure.js", "alternate.js"]);
const scripts = readdirSync(here)
  .filter((f) => f.endsWith(".js") && !skip.has(f))
  .filter((f) => wanted.length === 0 || wanted.includes(f.replace(/\.js$/, "")))
  .sort((a, b) => (a === "core.js" ? -1 : b === "core.js" ? 1 : a.localeCompare(b)));

let failed = 0;
for (const script of scripts) {
  console.error(`bench: ${script}`);
  const r = spawnSync(process.execPath, [join(here, script)], { stdio: "inherit" });
  if (r.status !== 0) {
    failed++;
    console.error(`bench: ${script} failed with exit code ${r.status}`);
  }
}
process.exitCode = failed === 0 ? 0 : 1;
