import { phase } from "../../timing.js";
import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { EXIT_OK, refuseTerminal, writeSecret } from "../io.js";
import { COMMON, needRef, positiveInt, REVEAL, withVault } from "./shared.js";

const SYNOPSIS = "vault get NS/NAME [--version N] [--reveal]";

export const get = defineCommand({
  name: "vault get",
  synopsis: SYNOPSIS,
  options: {
    ...COMMON,
    version: { type: "string", arg: "N", description: "an earlier version" },
    reveal: REVEAL,
  },
  async run({ values, positionals, io }) {
    const ref = needRef(positionals, SYNOPSIS);
    const version = positiveInt(values.version, "--version");
    refuseTerminal(io, values.reveal, "a secret");
    const l = layoutFrom(values, io);
    const value = await withVault(l, values, io, ({ vault }) =>
      vault.get(ref, version === undefined ? {} : { version }),
    );
    phase("read");
    await writeSecret(io, value);
    return EXIT_OK;
  },
});
