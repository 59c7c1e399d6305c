import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { usageError } from "../io.js";
import { COMMON, usageHint, verifyVault } from "./shared.js";

const SYNOPSIS = "vault verify [--json]";

export const verify = defineCommand({
  name: "vault verify",
  synopsis: SYNOPSIS,
  options: COMMON,
  async run({ values, positionals, io }) {
    const l = layoutFrom(values, io);
    if (positionals.length > 0)
      throw usageError(`unexpected argument: ${positionals.at(-1)}`, usageHint(SYNOPSIS));
    return verifyVault(l, values, io, false);
  },
});
