import type { VaultOp } from "../../vault/index.js";
import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { EXIT_OK, usageError, writeLine } from "../io.js";
import { COMMON, reauth, targetFrom, usageHint, withVault } from "./shared.js";

const SYNOPSIS = "vault grant PLUGIN NS/NAME|NS/* --ops read,write,list,delete";

export const grant = defineCommand({
  name: "vault grant",
  synopsis: SYNOPSIS,
  options: {
    ...COMMON,
    ops: {
      type: "string",
      arg: "OPS",
      description: "comma-separated: read, write, list, delete (default read)",
    },
  },
  async run({ values, positionals, io }) {
    if (positionals.length !== 2) throw usageError("expected PLUGIN and NS/NAME", usageHint(SYNOPSIS));
    const [plugin, target] = positionals as [string, string];
    const ops = (values.ops ?? "read").split(",").map((o) => o.trim()) as VaultOp[];
    const rule = { ...targetFrom(target), ops };
    const l = layoutFrom(values, io);
    await withVault(l, values, io, ({ vault, pass }) => vault.grant(plugin, rule, reauth(pass)));
    writeLine(io.stdout, `granted ${plugin}: ${rule.ops.join(",")} on ${target}`);
    return EXIT_OK;
  },
});
