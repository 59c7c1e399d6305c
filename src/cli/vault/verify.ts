import type { StoreLayout } from "../../credstore/index.js";
import { isKeyholdError } from "../../secret/index.js";
import { printable } from "../../secret/printable.js";
import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { type CliIo, EXIT_FINDINGS, EXIT_OK, usageError, writeJson, writeLine } from "../io.js";
import { COMMON, usageHint, withVault } from "./shared.js";

const SYNOPSIS = "vault verify [--json]";

/** Opening refuses these: a store that cannot be opened at all is a finding too, not just an error. */
const TAMPERING = ["VAULT_TAMPERED", "VAULT_ROLLBACK", "VAULT_FORKED", "AUDIT_TAMPERED"];

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
  let problems: string[];
  let firstSight: number | undefined;
  try {
    problems = await withVault(l, values, io, async ({ vault }) => {
      const report = withAudit ? await vault.verifyAudit() : await vault.verify();
      const store = "store" in report ? report.store : report;
      if (store.firstSight) firstSight = store.generation;
      return report.problems;
    });
  } catch (err) {
    if (!isKeyholdError(err) || !TAMPERING.includes(err.code)) throw err;
    problems = [`${err.message} [${err.code}]`];
  }
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

export const verify = defineCommand({
  name: "vault verify",
  synopsis: SYNOPSIS,
  summary: "check the whole store's integrity (exit 3 on problems)",
  options: COMMON,
  async run({ values, positionals, io }) {
    const l = layoutFrom(values, io);
    if (positionals.length > 0)
      throw usageError(`unexpected argument: ${positionals.at(-1)}`, usageHint(SYNOPSIS));
    return verifyVault(l, values, io, false);
  },
});
