import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { EXIT_OK, usageError, writeJson, writeLine } from "../io.js";
import { COMMON, usageHint, withVault } from "./shared.js";

const SYNOPSIS = "vault ls [NS] [--json]";

export const ls = defineCommand({
  name: "vault ls",
  synopsis: SYNOPSIS,
  summary: "list secrets: names and metadata, never values",
  options: COMMON,
  async run({ values, positionals, io }) {
    if (positionals.length > 1)
      throw usageError(`unexpected argument: ${positionals[1]}`, usageHint(SYNOPSIS));
    const l = layoutFrom(values, io);
    const list = await withVault(l, values, io, ({ vault }) => vault.list(positionals[0]));
    if (values.json) writeJson(io, list);
    else {
      if (list.length === 0) writeLine(io.stdout, "no secrets");
      for (const s of list) {
        writeLine(
          io.stdout,
          `${`${s.ns}/${s.name}`.padEnd(40)} v${s.version} (${s.versions} kept)  updated ${s.updated}${s.expires ? `  expires ${s.expires}` : ""}`,
        );
      }
    }
    return EXIT_OK;
  },
});
