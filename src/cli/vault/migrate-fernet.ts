import { importVaultValues, readFernetStore } from "../../app/vault-import.js";
import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { EXIT_OK, usageError, writeLine } from "../io.js";
import { COMMON, FILE_ARG, importSummary, passphraseFrom, usageHint } from "./shared.js";

const SYNOPSIS = "vault migrate-fernet TOKEN-FILE --key-file KEY-FILE [--ttl SECONDS] [--overwrite]";

export const migrateFernet = defineCommand({
  name: "vault migrate-fernet",
  synopsis: SYNOPSIS,
  completePositionals: "file",
  help: [
    "--ttl: the store's time-to-live; an older token is refused.",
    "api_keys.SERVICE becomes SERVICE/api_key, oauth_tokens.SERVICE.FIELD becomes SERVICE/oauth_FIELD.",
    "A secret already holding the same value is left as it is, so running it again changes nothing;",
    "one holding another value refuses the whole import unless --overwrite (which adds a version).",
  ].join("\n"),
  options: {
    ...COMMON,
    "key-file": { ...FILE_ARG, description: "the Fernet key (required)" },
    ttl: {
      type: "string",
      arg: "SECONDS",
      description: "the store's time-to-live; an older token is refused",
    },
    overwrite: {
      type: "boolean",
      description: "replace secrets that hold another value (adds a version) instead of refusing the import",
    },
  },
  async run({ values, positionals, io }) {
    if (positionals.length !== 1) throw usageError("expected TOKEN-FILE", usageHint(SYNOPSIS));
    if (values["key-file"] === undefined)
      throw usageError("--key-file KEY-FILE is required", usageHint(SYNOPSIS));
    if (values.ttl !== undefined && !/^[1-9][0-9]{0,11}$/.test(values.ttl))
      throw usageError("--ttl takes a whole number of seconds, 1 or more", usageHint(SYNOPSIS));
    const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
    const entries = readFernetStore(positionals[0] as string, values["key-file"], ttl);
    const l = layoutFrom(values, io);
    try {
      const overwrite = values.overwrite ?? false;
      const done = await importVaultValues(l, entries, "fernet", overwrite, passphraseFrom(values, io));
      writeLine(io.stdout, importSummary(done, "from the legacy store"));
      for (const e of entries) writeLine(io.stdout, `  ${e.ref.ns}/${e.ref.name}`);
    } finally {
      for (const e of entries) e.value.dispose();
    }
    return EXIT_OK;
  },
});
