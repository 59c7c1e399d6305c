import { readInputFile } from "../../app/vault-import.js";
import { parseManifest, type PolicyDocument } from "../../vault/index.js";
import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { type CliIo, EXIT_OK, usageError, writeJson, writeLine } from "../io.js";
import { COMMON, usageHint, withVault } from "./shared.js";

const SYNOPSIS = "vault policy [show] [--json] | vault policy load MANIFEST.json";

function printPolicy(io: CliIo, policy: PolicyDocument): void {
  const plugins = new Set([...Object.keys(policy.manifests), ...Object.keys(policy.grants)]);
  if (plugins.size === 0) writeLine(io.stdout, "no plugins");
  for (const p of [...plugins].sort()) {
    writeLine(io.stdout, `${p}:`);
    for (const n of policy.manifests[p]?.needs ?? [])
      writeLine(io.stdout, `  needs   ${n.ns}/${n.name} ${n.ops.join(",")}`);
    for (const g of policy.grants[p] ?? [])
      writeLine(io.stdout, `  granted ${g.ns}/${g.name} ${g.ops.join(",")}`);
  }
}

export const policy = defineCommand({
  name: "vault policy",
  synopsis: SYNOPSIS,
  completePositionals: ["show", "load"],
  options: COMMON,
  async run({ values, positionals, io }) {
    const l = layoutFrom(values, io);
    if (positionals[0] === "load") {
      if (positionals.length !== 2) throw usageError("expected MANIFEST.json", usageHint(SYNOPSIS));
      const manifest = parseManifest(readInputFile(positionals[1] as string, 1024 * 1024).toString("utf8"));
      await withVault(l, values, io, ({ vault }) => vault.registerManifest(manifest));
      writeLine(
        io.stdout,
        `registered the manifest of plugin ${manifest.plugin} (${manifest.needs.length} needs)`,
      );
      return EXIT_OK;
    }
    if (positionals.length > 1 || (positionals[0] !== undefined && positionals[0] !== "show")) {
      throw usageError(`unexpected argument: ${positionals.at(-1)}`, usageHint(SYNOPSIS));
    }
    const document = await withVault(l, values, io, ({ vault }) => vault.policy());
    if (values.json) writeJson(io, document);
    else printPolicy(io, document);
    return EXIT_OK;
  },
});
