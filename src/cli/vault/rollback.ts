import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { EXIT_OK, writeLine } from "../io.js";
import { COMMON, needRef, positiveInt, withVault } from "./shared.js";

const SYNOPSIS = "vault rollback NS/NAME [--to N]";

export const rollback = defineCommand({
  name: "vault rollback",
  synopsis: SYNOPSIS,
  summary: "make an earlier version current",
  options: {
    ...COMMON,
    to: { type: "string", arg: "N", description: "the version to make current (default: the one before)" },
  },
  async run({ values, positionals, io }) {
    const ref = needRef(positionals, SYNOPSIS);
    const to = positiveInt(values.to, "--to");
    const l = layoutFrom(values, io);
    const { version } = await withVault(l, values, io, ({ vault }) =>
      vault.rollback(ref, to === undefined ? {} : { to }),
    );
    writeLine(io.stdout, `${ref.ns}/${ref.name} is at version ${version} again`);
    return EXIT_OK;
  },
});
