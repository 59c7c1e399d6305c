import { importVaultValues, readDotenvFile } from "../../app/vault-import.js";
import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { EXIT_OK, usageError, writeLine } from "../io.js";
import { COMMON, importSummary, passphraseFrom, usageHint } from "./shared.js";

const SYNOPSIS = "vault import-env FILE.env --ns NS [--overwrite]";

export const importEnv = defineCommand({
  name: "vault import-env",
  synopsis: SYNOPSIS,
  completePositionals: "file",
  options: {
    ...COMMON,
    ns: { type: "string", arg: "NS", description: "the namespace to import into (required)" },
    overwrite: {
      type: "boolean",
      description: "replace secrets that hold another value (adds a version) instead of refusing the import",
    },
  },
  async run({ values, positionals, io }) {
    if (positionals.length !== 1) throw usageError("expected FILE.env", usageHint(SYNOPSIS));
    if (values.ns === undefined) throw usageError("--ns NS is required", usageHint(SYNOPSIS));
    const file = positionals[0] as string;
    const ns = values.ns;
    const entries = readDotenvFile(file, ns);
    const l = layoutFrom(values, io);
    try {
      const overwrite = values.overwrite ?? false;
      const done = await importVaultValues(l, entries, "dotenv", overwrite, passphraseFrom(values, io));
      writeLine(io.stdout, importSummary(done, `into ${ns}`));
      for (const e of entries) writeLine(io.stdout, `  ${e.variable} -> ${ns}/${e.name}`);
    } finally {
      for (const e of entries) e.value.dispose();
    }
    return EXIT_OK;
  },
});
