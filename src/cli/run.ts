import { CredentialStore } from "../app/credentials.js";
import { lookupUser } from "../app/run-as.js";
import type { Secret } from "../secret/index.js";
import { assertCredentialName } from "../systemd/index.js";
import { layoutFrom } from "./args.js";
import { defineCommand, expectPositionals, type OptionTable, type RunContext } from "./command.js";
import { usageError } from "./io.js";

/*
 * `keyhold run`: parses, reads the vault secrets it names, and hands everything to
 * CredentialStore.run (src/app/credentials.ts), which audits the run and lays out the private
 * $CREDENTIALS_DIRECTORY.
 */

const RUN_SYNOPSIS =
  "run [NAME[,NAME…]] [--vault NS/NAME]… [--user USER] [--file-vars] [--systemd] -- COMMAND [ARGS…]";

const RUN_OPTIONS = {
  user: {
    type: "string",
    arg: "USER",
    description: "run COMMAND as USER (a name or a uid), with that user's environment",
  },
  "file-vars": {
    type: "boolean",
    description: "also set NAME_FILE=<path> for each credential, for programs that read such variables",
  },
  systemd: {
    type: "boolean",
    description: "let systemd decrypt, as for a service (systemd-run with LoadCredentialEncrypted=)",
  },
  vault: {
    type: "string",
    arg: "NS/NAME",
    multiple: true,
    description: "also give vault secret NS/NAME, as the file NAME (repeatable)",
  },
  "passphrase-file": {
    type: "string",
    arg: "FILE",
    complete: "file",
    description: "with --vault: the vault's passphrase, from an owner-only file",
  },
} as const satisfies OptionTable;

export const run = defineCommand({
  name: "run",
  synopsis: RUN_SYNOPSIS,
  help: "Runs COMMAND with the credentials as files in a private $CREDENTIALS_DIRECTORY on a\nmemory file system; never in argv or the environment. Exits with COMMAND's code.\nA NAME that starts with '-' follows a comma: keyhold run ,-NAME -- COMMAND",
  options: RUN_OPTIONS,
  passthrough: true,
  run: runCommand,
});

async function runCommand({
  values,
  positionals,
  command,
  io,
}: RunContext<typeof RUN_OPTIONS>): Promise<number> {
  const vaultRefs = values.vault ?? [];
  expectPositionals(positionals, vaultRefs.length > 0 && positionals.length === 0 ? 0 : 1, RUN_SYNOPSIS);
  if (command.length === 0) throw usageError("no command given", `usage: keyhold ${RUN_SYNOPSIS}`);
  const names = (positionals[0] ?? "").split(",").filter((n) => n !== "");
  for (const n of names) assertCredentialName(n);
  const store = new CredentialStore(layoutFrom(values, io));
  // Looked up before any vault secret is read: an unknown user reads nothing.
  const user = values.user === undefined ? undefined : lookupUser(values.user);
  if (values.systemd) {
    if (values["file-vars"]) throw usageError("--file-vars cannot be combined with --systemd");
    if (vaultRefs.length > 0) throw usageError("--vault cannot be combined with --systemd");
    return store.runUnderSystemd({ names, command, env: io.env, user });
  }
  // Vault secrets are read (and their reads audited by the vault) before anything else starts.
  let vaultValues: { name: string; value: Secret; source: string }[] = [];
  if (vaultRefs.length > 0) {
    const { parseRef } = await import("../vault/index.js");
    // The vault's passphrase options are read as `keyhold vault` reads them.
    const { loadVaultSecrets } = await import("./vault/shared.js");
    const loaded = await loadVaultSecrets(
      store.layout,
      values,
      io,
      vaultRefs.map((r) => parseRef(r)),
    );
    vaultValues = loaded.map((v, i) => ({ ...v, source: `vault:${vaultRefs[i]}` }));
  }
  const result = await store.run({
    names,
    command,
    env: io.env,
    user,
    fileVariables: values["file-vars"] ?? false,
    values: vaultValues,
  });
  return result.exitCode;
}
