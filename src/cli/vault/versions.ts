import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { EXIT_OK, writeJson, writeLine } from "../io.js";
import { COMMON, needRef, withVault } from "./shared.js";

const SYNOPSIS = "vault versions NS/NAME [--json]";

export const versions = defineCommand({
  name: "vault versions",
  synopsis: SYNOPSIS,
  options: COMMON,
  async run({ values, positionals, io }) {
    const ref = needRef(positionals, SYNOPSIS);
    const l = layoutFrom(values, io);
    const list = await withVault(l, values, io, ({ vault }) => vault.versions(ref));
    if (values.json) writeJson(io, list);
    else
      for (const v of list)
        writeLine(
          io.stdout,
          `${v.current ? "*" : " "} v${v.version}  ${v.created}  dek ${v.dekVersion}${v.expires ? `  expires ${v.expires}` : ""}`,
        );
    return EXIT_OK;
  },
});
