// Renders keyhold(1) and the bash and zsh completions from the command table into dist/share/
// (the layout of /usr/share, so each file can be copied or linked to the same place there).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

const root = new URL("../", import.meta.url);
const { loadReference, renderBashCompletion, renderManPage, renderZshCompletion } = await import(
  new URL("dist/src/cli/reference.js", root)
);
const { version } = JSON.parse(readFileSync(new URL("package.json", root), "utf8"));
const ref = await loadReference();
const files = {
  "dist/share/man/man1/keyhold.1": renderManPage(ref, version),
  "dist/share/bash-completion/completions/keyhold": renderBashCompletion(ref),
  "dist/share/zsh/site-functions/_keyhold": renderZshCompletion(ref),
};
for (const [path, text] of Object.entries(files)) {
  const url = new URL(path, root);
  mkdirSync(dirname(url.pathname), { recursive: true });
  writeFileSync(url, text, { mode: 0o644 });
}
