import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { EXIT_OK, writeLine } from "../io.js";
import { RESTART_SYNOPSIS, restartOptions, rolloutFrom } from "../restart.js";
import { restartedSummary } from "./restart.js";
import { COMMON, needRef, passphraseFrom, positiveInt, withVault } from "./shared.js";

const SYNOPSIS = `vault rollback NS/NAME [--to N] ${RESTART_SYNOPSIS}`;

export const rollback = defineCommand({
  name: "vault rollback",
  synopsis: SYNOPSIS,
  options: {
    ...COMMON,
    to: { type: "string", arg: "N", description: "the version to make current (default: the one before)" },
    ...restartOptions("NS/NAME (units rendered with keyhold unit --vault)"),
  },
  async run({ values, positionals, io }) {
    const ref = needRef(positionals, SYNOPSIS);
    const to = positiveInt(values.to, "--to");
    const rollout = rolloutFrom(values, io);
    const l = layoutFrom(values, io);
    if (rollout !== undefined) {
      const { vaultWriteAndRestart } = await import("../../app/vault-rollout.js");
      const done = await vaultWriteAndRestart(
        l,
        ref,
        { rollbackTo: to },
        rollout,
        passphraseFrom(values, io),
      );
      return restartedSummary(io, `${ref.ns}/${ref.name} is at version ${done.version} again`, done.result);
    }
    const { version } = await withVault(l, values, io, ({ vault }) =>
      vault.rollback(ref, to === undefined ? {} : { to }),
    );
    writeLine(io.stdout, `${ref.ns}/${ref.name} is at version ${version} again`);
    return EXIT_OK;
  },
});
