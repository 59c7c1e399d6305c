// Bundles the CLI into dist/cli/, twice:
// - keyhold.js, ES modules with code splitting: `keyhold run` starts by loading one small file
//   instead of resolving dozens of modules; commands still load lazily.
// - keyhold.cjs, the same CLI as one function expression, which bin/keyhold.js compiles with V8's
//   code cache (scripts/code-cache.mjs trains it at build time). Without a cache it is slower to
//   start than the split bundle (V8 must pre-parse all of it), so it is only used with one.
import { createHash } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

// Chunk names carry a content hash: without this, every build would leave the last one's chunks
// behind, and `npm pack` would ship them all.
rmSync("dist/cli", { recursive: true, force: true });

const common = {
  entryPoints: { keyhold: "src/cli/main.ts" },
  bundle: true,
  platform: "node",
  target: "node20",
  packages: "external",
  minify: true,
  keepNames: true,
  logLevel: "warning",
};

await build({
  ...common,
  outdir: "dist/cli",
  splitting: true,
  format: "esm",
  sourcemap: "linked",
  chunkNames: "chunks/[name]-[hash]",
});

// sodium-native's JavaScript (and the one package it requires) bundled into the code-cached copy,
// so the vault's commands find it in their cache instead of resolving and compiling it (about 6 ms
// of `vault get`); its native binding, binding.js, stays in node_modules, where src/vault/sodium.ts
// hands it the prebuilt addon. The split bundle loads sodium-native from node_modules as before.
const sodiumBundled = {
  name: "sodium-native-bundled",
  setup(b) {
    const within = (importer, name) => importer.includes(`/node_modules/${name}/`);
    b.onResolve({ filter: /\/sodium-native\.js$/ }, ({ importer }) =>
      importer.endsWith("/src/vault/sodium.ts")
        ? { path: fileURLToPath(new URL("sodium-native.cjs", import.meta.url)) }
        : undefined,
    );
    b.onResolve({ filter: /^(sodium-native|which-runtime)$/ }, ({ path, importer }) =>
      importer.endsWith("/scripts/sodium-native.cjs") || within(importer, "sodium-native")
        ? { path: createRequire(importer).resolve(path) }
        : undefined,
    );
    b.onResolve({ filter: /^\.\/binding(\.js)?$/ }, ({ importer }) =>
      within(importer, "sodium-native") ? { path: "sodium-native/binding.js", external: true } : undefined,
    );
  },
};

// The function bin/keyhold.js calls with (exports, require, module, the bundle's URL): the file is
// exactly the source V8 compiles, so the cache made from it matches byte for byte. esbuild's
// CommonJS output starts with "use strict", so this copy stays as strict as the ES modules.
// `import.meta.url` becomes the URL passed in.
const { outputFiles, metafile } = await build({
  ...common,
  plugins: [sodiumBundled],
  outfile: "dist/cli/keyhold.cjs",
  format: "cjs",
  // Non-ASCII escaped, so bin/keyhold.js can read it as latin1, the quickest decode.
  charset: "ascii",
  write: false,
  define: { "import.meta.url": "__keyhold_url" },
  // The packages loaded on demand (pg, the keyring's binding) are loaded with require, which the
  // CommonJS copy is handed: a script compiled from a V8 code cache has no callback for import()
  // (it fails with "A dynamic import callback was not specified").
  supported: { "dynamic-import": false },
  metafile: true,
  banner: { js: "(function (exports, require, module, __keyhold_url) {" },
  footer: { js: "})" },
});
const [cjs] = outputFiles;
const imported = Object.values(metafile.outputs)
  .flatMap((output) => output.imports)
  .filter((i) => i.kind === "dynamic-import");
if (imported.length > 0)
  throw new Error(`dist/cli/keyhold.cjs would import() ${imported.map((i) => i.path).join(", ")}`);
// V8 checks a cache against its source only by length: the build's id, from the content, names
// the cache made for it (scripts/code-cache.mjs), so a cache is never used with another build.
const id = createHash("sha256").update(cjs.contents).digest("hex").slice(0, 16);
writeFileSync("dist/cli/keyhold.cjs", `${cjs.text}\n//# keyhold-build=${id}\n`, { mode: 0o644 });
