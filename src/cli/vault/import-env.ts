import { parseDotenv } from "../../credstore/index.js";
import { wipe } from "../../secret/index.js";
import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { EXIT_OK, usageError, writeLine } from "../io.js";
import { COMMON, importSummary, LEGACY_STORE_MAX, readInputFile, usageHint, withVault } from "./shared.js";

const SYNOPSIS = "vault import-env FILE.env --ns NS [--overwrite]";

export const importEnv = defineCommand({
  name: "vault import-env",
  synopsis: SYNOPSIS,
  summary:
    "import every entry of a .env file into namespace NS, all or nothing (same values left as they are; other values refused unless --overwrite)",
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
    const bytes = readInputFile(file, LEGACY_STORE_MAX);
    const entries = parseDotenv(file, bytes.toString("utf8"));
    wipe(bytes);
    const l = layoutFrom(values, io);
    try {
      const done = await withVault(l, values, io, ({ vault }) =>
        vault.importValues(
          entries.map((e) => ({ ref: { ns, name: e.name }, value: e.value })),
          "dotenv",
          { overwrite: values.overwrite ?? false },
        ),
      );
      writeLine(io.stdout, importSummary(done, `into ${ns}`));
      for (const e of entries) writeLine(io.stdout, `  ${e.variable} -> ${ns}/${e.name}`);
    } finally {
      for (const e of entries) e.value.dispose();
    }
    return EXIT_OK;
  },
});
