import {
  type HostVault,
  loadVaultSecrets as loadHostVaultSecrets,
  readPassphraseFile,
  verifyHostVault,
  withHostVault,
} from "../../app/vault-host.js";
import type { StoreLayout } from "../../credstore/layout.js";
import { readValue } from "../../credstore/value-input.js";
import type { Secret } from "../../secret/index.js";
import { printable } from "../../secret/printable.js";
import type { Reauth } from "../../vault/index.js";
import { parseRef, type SecretRef } from "../../vault/refs.js";
import { type OptionTable, JSON_OUTPUT } from "../command.js";
import { type CliIo, EXIT_FINDINGS, EXIT_OK, usageError, writeJson, writeLine } from "../io.js";

/*
 * What the `keyhold vault …` subcommands share: the options every one takes, the passphrase from
 * the command line, and the checks of their arguments. Opening the vault is src/app/vault-host.ts.
 */

/** Options of every vault subcommand (besides --store and --state). */
export const COMMON = {
  json: JSON_OUTPUT,
  "passphrase-file": {
    type: "string",
    arg: "FILE",
    complete: "file",
    description: "the vault's passphrase (passphrase provider), from an owner-only file",
  },
} as const satisfies OptionTable;

export const REVEAL = { type: "boolean", description: "print even to a terminal" } as const;
export const FILE_ARG = { type: "string", arg: "FILE", complete: "file" } as const;

export const usageHint = (synopsis: string): string => `usage: keyhold ${synopsis}`;

type PassphraseValues = { "passphrase-file"?: string };

/** The passphrase from --passphrase-file (owner-only file) or a no-echo prompt. */
async function readPassphrase(values: PassphraseValues, io: CliIo): Promise<Secret> {
  const file = values["passphrase-file"];
  if (file !== undefined) return readPassphraseFile(file);
  if (!io.stdin.isTTY) {
    throw usageError(
      "this vault needs its passphrase",
      "pass --passphrase-file FILE (mode 0600) or run on a terminal",
    );
  }
  return readValue("vault passphrase", io);
}

/** How this command line gives the passphrase, should the vault need one. */
export const passphraseFrom = (values: PassphraseValues, io: CliIo) => ({
  passphrase: () => readPassphrase(values, io),
});

/** Opens this host's vault for `work`, with the passphrase from the command line when it needs one. */
export function withVault<T>(
  l: StoreLayout,
  values: PassphraseValues,
  io: CliIo,
  work: (opened: HostVault) => Promise<T>,
): Promise<T> {
  return withHostVault(l, passphraseFrom(values, io), work);
}

/** Re-authentication for the operations that ask for it: the passphrase the vault was opened with. */
export const reauth = (pass: Secret | undefined): Reauth => (pass === undefined ? {} : { passphrase: pass });

/** Reads vault secrets for `run` (and `keyhold run --vault`): each becomes the file NAME. */
export function loadVaultSecrets(
  l: StoreLayout,
  values: PassphraseValues,
  io: CliIo,
  refs: readonly SecretRef[],
): Promise<Array<{ name: string; value: Secret }>> {
  return loadHostVaultSecrets(l, passphraseFrom(values, io), refs);
}

/** The one NS/NAME a subcommand takes. */
export function needRef(positionals: string[], synopsis: string): SecretRef {
  if (positionals.length !== 1)
    throw usageError(
      positionals.length === 0 ? "missing NS/NAME" : `unexpected argument: ${positionals[1]}`,
      usageHint(synopsis),
    );
  return parseRef(positionals[0] as string);
}

export function positiveInt(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[1-9][0-9]{0,8}$/.test(text)) throw usageError(`${what} must be a positive whole number`);
  return Number(text);
}

/** What an import did, or that it changed nothing because every value was stored already. */
export function importSummary(
  { count, unchanged }: { count: number; unchanged: string[] },
  where: string,
): string {
  if (count === 0)
    return `nothing changed: the ${unchanged.length} secrets ${where} are already stored with these values`;
  const same = unchanged.length === 0 ? "" : ` (${unchanged.length} already stored with these values)`;
  return `imported ${count} secrets ${where}${same}`;
}

/** A grant's target: NS/NAME or NS/* (checked by the vault). */
export function targetFrom(target: string): { ns: string; name: string } {
  const slash = target.indexOf("/");
  if (slash < 0) throw usageError("the target is NS/NAME or NS/*");
  return { ns: target.slice(0, slash), name: target.slice(slash + 1) };
}

/**
 * `vault verify` (the store) and `vault audit verify` (the store, then the log against this host's
 * seal in it): the problems found are printed and exit 3.
 */
export async function verifyVault(
  l: StoreLayout,
  values: { json?: boolean; "passphrase-file"?: string },
  io: CliIo,
  withAudit: boolean,
): Promise<number> {
  const { problems, firstSight } = await verifyHostVault(l, passphraseFrom(values, io), withAudit);
  if (values.json)
    writeJson(io, { ok: problems.length === 0, problems, firstSight: firstSight !== undefined });
  else if (problems.length === 0) {
    // Nothing to compare with: say so rather than let a first look pass for a checked history.
    const sight =
      firstSight === undefined
        ? ""
        : ` (first sight: this host had not seen this store; it now remembers generation ${firstSight})`;
    writeLine(io.stdout, `${withAudit ? "vault and audit log verified" : "vault verified"}${sight}`);
  } else for (const p of problems) writeLine(io.stdout, `problem: ${printable(p)}`);
  return problems.length === 0 ? EXIT_OK : EXIT_FINDINGS;
}
