import { migrateVaultFile, putVaultSecret } from "../../app/vault-import.js";
import { readVaultConfig } from "../../app/vault-host.js";
import { readValue } from "../../credstore/index.js";
import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { EXIT_OK, usageError, writeLine } from "../io.js";
import { RESTART_SYNOPSIS, restartOptions, rolloutFrom } from "../restart.js";
import { restartedSummary } from "./restart.js";
import { COMMON, FILE_ARG, needRef, passphraseFrom } from "./shared.js";

const SYNOPSIS = `vault put NS/NAME [--expires ISO-TIME] [--from-file FILE [--shred]] [--keep-newline] ${RESTART_SYNOPSIS}`;

export const put = defineCommand({
  name: "vault put",
  synopsis: SYNOPSIS,
  options: {
    ...COMMON,
    expires: { type: "string", arg: "ISO-TIME", description: "the secret expires at this time" },
    "from-file": { ...FILE_ARG, description: "migrate the value from a plaintext FILE" },
    shred: {
      type: "boolean",
      description: "with --from-file: overwrite and remove FILE once the vault reads back the same bytes",
    },
    "keep-newline": { type: "boolean", description: "keep a final newline (the value byte for byte)" },
    ...restartOptions("NS/NAME (units rendered with keyhold unit --vault)"),
  },
  async run({ values, positionals, io }) {
    const ref = needRef(positionals, SYNOPSIS);
    let expires: Date | undefined;
    if (values.expires !== undefined) {
      expires = new Date(values.expires);
      if (!Number.isFinite(expires.getTime())) throw usageError("--expires must be an ISO 8601 time");
    }
    const fromFile = values["from-file"];
    if (values.shred && fromFile === undefined) throw usageError("--shred goes with --from-file");
    const rollout = rolloutFrom(values, io);
    if (rollout !== undefined && fromFile !== undefined)
      throw usageError("--restart reads the value from stdin: it does not go with --from-file");
    const l = layoutFrom(values, io);
    const config = readVaultConfig(l);
    if (
      config.provider === "passphrase" &&
      values["passphrase-file"] === undefined &&
      fromFile === undefined
    ) {
      throw usageError("put reads the value from stdin: give the passphrase with --passphrase-file");
    }
    const keepNewline = values["keep-newline"] ?? false;
    const put = expires === undefined ? {} : { expires };
    if (fromFile !== undefined) {
      const shred = values.shred ?? false;
      const version = await migrateVaultFile(
        l,
        ref,
        fromFile,
        { ...put, keepNewline, shred },
        passphraseFrom(values, io),
      );
      const tail = shred ? `; ${fromFile} overwritten and removed` : "";
      writeLine(io.stdout, `stored ${ref.ns}/${ref.name} version ${version}${tail}`);
      return EXIT_OK;
    }
    const value = await readValue(`${ref.ns}/${ref.name}`, io, { keepNewline });
    if (rollout !== undefined) {
      try {
        const { vaultWriteAndRestart } = await import("../../app/vault-rollout.js");
        const done = await vaultWriteAndRestart(
          l,
          ref,
          { put: value, ...put },
          rollout,
          passphraseFrom(values, io),
        );
        return await restartedSummary(
          io,
          `stored ${ref.ns}/${ref.name} version ${done.version}`,
          done.result,
        );
      } finally {
        value.dispose();
      }
    }
    try {
      const version = await putVaultSecret(l, ref, value, put, passphraseFrom(values, io));
      writeLine(io.stdout, `stored ${ref.ns}/${ref.name} version ${version}`);
    } finally {
      value.dispose();
    }
    return EXIT_OK;
  },
});
