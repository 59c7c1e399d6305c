import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { EXIT_OK, writeLine } from "../io.js";
import { COMMON, needRef, withVault } from "./shared.js";

const SYNOPSIS = "vault rm NS/NAME";

export const rm = defineCommand({
  name: "vault rm",
  synopsis: SYNOPSIS,
  options: COMMON,
  async run({ values, positionals, io }) {
    const ref = needRef(positionals, SYNOPSIS);
    const l = layoutFrom(values, io);
    await withVault(l, values, io, ({ vault }) => vault.delete(ref));
    writeLine(io.stdout, `removed ${ref.ns}/${ref.name}`);
    return EXIT_OK;
  },
});
