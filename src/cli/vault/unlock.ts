import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { EXIT_OK, usageError, writeLine } from "../io.js";
import { COMMON, reauth, usageHint, withVault } from "./shared.js";

const SYNOPSIS = "vault unlock PLUGIN";

export const unlock = defineCommand({
  name: "vault unlock",
  synopsis: SYNOPSIS,
  options: COMMON,
  async run({ values, positionals, io }) {
    if (positionals.length !== 1) throw usageError("expected PLUGIN", usageHint(SYNOPSIS));
    const plugin = positionals[0] as string;
    const l = layoutFrom(values, io);
    const { wasLocked, denials } = await withVault(l, values, io, ({ vault, pass }) =>
      vault.unlock(plugin, reauth(pass)),
    );
    if (wasLocked) writeLine(io.stdout, `unlocked ${plugin}`);
    else
      writeLine(
        io.stdout,
        `${plugin} was not locked out${denials > 0 ? ` (forgot ${denials} recent denials)` : ""}`,
      );
    return EXIT_OK;
  },
});
