// Bundles the CLI into dist/cli/ (ES modules with code splitting): `keyhold run` starts by
// loading one small file instead of resolving dozens of modules; commands still load lazily.
import { rmSync } from "node:fs";
import { build } from "esbuild";

// Chunk names carry a content hash: without this, every build would leave the last one's chunks
// behind, and `npm pack` would ship them all.
rmSync("dist/cli", { recursive: true, force: true });

await build({
  entryPoints: { keyhold: "src/cli/main.ts" },
  outdir: "dist/cli",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external",
  sourcemap: "linked",
  minify: true,
  keepNames: true,
  chunkNames: "chunks/[name]-[hash]",
  logLevel: "warning",
});
