import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { EXIT_OK } from "../io.js";
import { COMMON, needRef, positiveInt, REVEAL, refuseTerminal, withVault } from "./shared.js";

const SYNOPSIS = "vault get NS/NAME [--version N] [--reveal]";

export const get = defineCommand({
  name: "vault get",
  synopsis: SYNOPSIS,
  summary: "write a value to a pipe",
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
    try {
      await new Promise<void>((resolve, reject) =>
        io.stdout.write(value.exposeBytes(), (e) => (e ? reject(e) : resolve())),
      );
    } finally {
      value.dispose();
    }
    return EXIT_OK;
  },
});
