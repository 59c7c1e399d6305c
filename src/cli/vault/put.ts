import { readVaultConfig } from "../../app/vault-host.js";
import { closeOpened, openForShred, readOpened, readValue, shredOpened } from "../../credstore/index.js";
import { readProtectedFile, secretFromText } from "../../load/index.js";
import { KeyholdError, type Secret } from "../../secret/index.js";
import { CREDENTIAL_SIZE_MAX } from "../../systemd/index.js";
import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { EXIT_OK, usageError, writeLine } from "../io.js";
import { COMMON, FILE_ARG, needRef, withVault } from "./shared.js";

const SYNOPSIS = "vault put NS/NAME [--expires ISO-TIME] [--from-file FILE [--shred]] [--keep-newline]";

export const put = defineCommand({
  name: "vault put",
  synopsis: SYNOPSIS,
  summary:
    "store a new version (value from a no-echo prompt, stdin, or a plaintext file to migrate; one final newline dropped unless --keep-newline)",
  options: {
    ...COMMON,
    expires: { type: "string", arg: "ISO-TIME", description: "the secret expires at this time" },
    "from-file": { ...FILE_ARG, description: "migrate the value from a plaintext FILE" },
    shred: {
      type: "boolean",
      description: "with --from-file: overwrite and remove FILE once the vault reads back the same bytes",
    },
    "keep-newline": { type: "boolean", description: "keep a final newline (the value byte for byte)" },
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
    const l = layoutFrom(values, io);
    const config = readVaultConfig(l);
    if (
      config.provider === "passphrase" &&
      values["passphrase-file"] === undefined &&
      fromFile === undefined
    ) {
      throw usageError("put reads the value from stdin: give the passphrase with --passphrase-file");
    }
    // A plaintext file being migrated is read whatever its mode (it is what is being fixed).
    // With --shred the file is read and later overwritten through one descriptor.
    const opened = fromFile !== undefined && values.shred ? openForShred(fromFile) : undefined;
    let value: Secret;
    try {
      const keepNewline = values["keep-newline"] ?? false;
      value =
        fromFile === undefined
          ? await readValue(`${ref.ns}/${ref.name}`, io, { keepNewline })
          : secretFromText(
              opened
                ? readOpened(opened, CREDENTIAL_SIZE_MAX)
                : readProtectedFile(fromFile, { permissions: "any" }),
              keepNewline,
            );
    } catch (err) {
      if (opened) closeOpened(opened);
      throw err;
    }
    try {
      await withVault(l, values, io, async ({ vault }) => {
        const { version } = await vault.put(ref, value, expires === undefined ? {} : { expires });
        if (fromFile !== undefined && values.shred) {
          // Only once the vault gives back the same bytes is the original overwritten and removed.
          const back = await vault.get(ref);
          const same = back.verify(value);
          back.dispose();
          if (!same)
            throw new KeyholdError(
              "IO_ERROR",
              "the stored value did not read back the same; the original was kept",
            );
          if (opened) shredOpened(opened);
        }
        const tail = fromFile !== undefined && values.shred ? `; ${fromFile} overwritten and removed` : "";
        writeLine(io.stdout, `stored ${ref.ns}/${ref.name} version ${version}${tail}`);
      });
    } finally {
      value.dispose();
      if (opened) closeOpened(opened);
    }
    return EXIT_OK;
  },
});
