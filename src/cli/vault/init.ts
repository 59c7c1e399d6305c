import {
  createHostVault,
  masterFromExport,
  VAULT_BACKENDS,
  VAULT_PROVIDERS,
  type VaultBackendKind,
  type VaultConfig,
} from "../../app/vault-host.js";
import type { Secret } from "../../secret/index.js";
import type { ProviderKind } from "../../vault/index.js";
import { layoutFrom, WITH_KEYS } from "../args.js";
import { defineCommand } from "../command.js";
import { type CliIo, EXIT_OK, usageError, writeLine } from "../io.js";
import { COMMON, passphraseFrom, positiveInt, usageHint } from "./shared.js";

const SYNOPSIS =
  "vault init [--provider systemd-credential|keyring|passphrase] [--backend file|postgres] [--pg-host H --pg-port P --pg-database D --pg-user U --pg-store S] [--join] [--schedule-master 365d] [--schedule-kek 90d] [--schedule-dek 30d]";

/** --join: this host's copy of the shared vault's master, as `keyhold vault export-master` wrote it. */
async function masterFromStdin(io: CliIo): Promise<Secret> {
  if (io.stdin.isTTY)
    throw usageError("--join reads the master key from stdin", "pipe it from: keyhold vault export-master");
  const chunks: Buffer[] = [];
  for await (const c of io.stdin) chunks.push(c as Buffer);
  return masterFromExport(Buffer.concat(chunks));
}

export const init = defineCommand({
  name: "vault init",
  synopsis: SYNOPSIS,
  options: {
    ...COMMON,
    provider: {
      type: "string",
      arg: "PROVIDER",
      complete: VAULT_PROVIDERS,
      description: "who holds the master key: systemd-credential (default), keyring or passphrase",
    },
    backend: {
      type: "string",
      arg: "BACKEND",
      complete: VAULT_BACKENDS,
      description: "where records live: file (default) or postgres",
    },
    "pg-host": { type: "string", arg: "HOST", description: "postgres: the server's host" },
    "pg-port": { type: "string", arg: "PORT", description: "postgres: the server's port" },
    "pg-database": { type: "string", arg: "DB", description: "postgres: the database" },
    "pg-user": { type: "string", arg: "USER", description: "postgres: the role to connect as" },
    "pg-store": {
      type: "string",
      arg: "NAME",
      description: "postgres: the store's name, when a database holds several",
    },
    "credential-name": {
      type: "string",
      arg: "NAME",
      description: "systemd-credential: the master key's credential name (default keyhold-vault-master)",
    },
    join: {
      type: "boolean",
      description: "join a shared vault with this host's copy of its master key, read from stdin",
    },
    "schedule-master": {
      type: "string",
      arg: "SPAN",
      description: "rotate the master key this often (e.g. 365d)",
    },
    "schedule-kek": {
      type: "string",
      arg: "SPAN",
      description: "rotate the key-encryption key this often (e.g. 90d)",
    },
    "schedule-dek": {
      type: "string",
      arg: "SPAN",
      description: "rotate the data keys this often (e.g. 30d)",
    },
    "with-key": {
      type: "string",
      arg: "KEY",
      complete: WITH_KEYS,
      description: "what seals the master key credential: auto (default), host, tpm2 or host+tpm2",
    },
  },
  async run({ values, positionals, io }) {
    if (positionals.length > 0)
      throw usageError(`unexpected argument: ${positionals[0]}`, usageHint(SYNOPSIS));
    const provider = (values.provider ?? "systemd-credential") as ProviderKind;
    if (!VAULT_PROVIDERS.includes(provider))
      throw usageError(`--provider must be one of ${VAULT_PROVIDERS.join(", ")}`);
    const backend = (values.backend ?? "file") as VaultBackendKind;
    if (!VAULT_BACKENDS.includes(backend)) throw usageError("--backend must be file or postgres");
    const l = layoutFrom(values, io);
    const config: VaultConfig = { backend, provider };
    if (values["credential-name"] !== undefined) config.credentialName = values["credential-name"];
    if (backend === "postgres") {
      const port = positiveInt(values["pg-port"], "--pg-port");
      config.postgres = {
        ...(values["pg-host"] === undefined ? {} : { host: values["pg-host"] }),
        ...(port === undefined ? {} : { port }),
        ...(values["pg-database"] === undefined ? {} : { database: values["pg-database"] }),
        ...(values["pg-user"] === undefined ? {} : { user: values["pg-user"] }),
        ...(values["pg-store"] === undefined ? {} : { store: values["pg-store"] }),
      };
    }
    const schedule = {
      ...(values["schedule-master"] === undefined ? {} : { master: values["schedule-master"] }),
      ...(values["schedule-kek"] === undefined ? {} : { kek: values["schedule-kek"] }),
      ...(values["schedule-dek"] === undefined ? {} : { dek: values["schedule-dek"] }),
    };
    const { storeId } = await createHostVault(l, config, {
      ...passphraseFrom(values, io),
      schedule,
      ...(values.join ? { join: () => masterFromStdin(io) } : {}),
    });
    writeLine(
      io.stdout,
      `${values.join ? "joined" : "created"} vault ${storeId} (${config.backend} backend, master key: ${provider})`,
    );
    return EXIT_OK;
  },
});
