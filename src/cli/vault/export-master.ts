import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { EXIT_OK, refuseTerminal, usageError } from "../io.js";
import { COMMON, REVEAL, reauth, withVault } from "./shared.js";

export const exportMaster = defineCommand({
  name: "vault export-master",
  synopsis: "vault export-master",
  options: { ...COMMON, reveal: REVEAL },
  async run({ values, positionals, io }) {
    if (positionals.length > 0) throw usageError(`unexpected argument: ${positionals[0]}`);
    refuseTerminal(io, values.reveal, "the master key");
    const l = layoutFrom(values, io);
    const master = await withVault(l, values, io, ({ vault, pass }) => vault.exportMaster(reauth(pass)));
    try {
      io.stdout.write(`${master.exposeBytes().toString("hex")}\n`);
    } finally {
      master.dispose();
    }
    return EXIT_OK;
  },
});
