import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { EXIT_OK, usageError, writeLine } from "../io.js";
import { COMMON, reauth, targetFrom, usageHint, withVault } from "./shared.js";

const SYNOPSIS = "vault revoke PLUGIN NS/NAME|NS/*";

export const revoke = defineCommand({
  name: "vault revoke",
  synopsis: SYNOPSIS,
  options: COMMON,
  async run({ values, positionals, io }) {
    if (positionals.length !== 2) throw usageError("expected PLUGIN and NS/NAME", usageHint(SYNOPSIS));
    const [plugin, target] = positionals as [string, string];
    const { ns, name } = targetFrom(target);
    const l = layoutFrom(values, io);
    await withVault(l, values, io, ({ vault, pass }) => vault.revoke(plugin, ns, name, reauth(pass)));
    writeLine(io.stdout, `revoked ${plugin} on ${target}`);
    return EXIT_OK;
  },
});
