import { runWithCredentials } from "../../credstore/index.js";
import { parseRef } from "../../vault/index.js";
import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { usageError } from "../io.js";
import { COMMON, loadVaultSecrets, usageHint } from "./shared.js";

const SYNOPSIS = "vault run NS/NAME[,NS/NAME…] -- COMMAND [ARGS…]";

/**
 * `keyhold vault run`: the values go into a private directory on a memory file system (as systemd
 * lays out $CREDENTIALS_DIRECTORY), never into argv or the environment; the directory is wiped and
 * removed when the child ends, also when keyhold is interrupted — the same as `keyhold run`.
 */
export const run = defineCommand({
  name: "vault run",
  synopsis: SYNOPSIS,
  passthrough: true,
  options: COMMON,
  async run({ values, positionals, command, io }) {
    if (positionals.length !== 1) throw usageError("expected NS/NAME[,NS/NAME…]", usageHint(SYNOPSIS));
    if (command.length === 0) throw usageError("no command given after --", usageHint(SYNOPSIS));
    const refs = (positionals[0] as string).split(",").map((r) => parseRef(r));
    const names = new Set<string>();
    for (const r of refs) {
      if (names.has(r.name)) throw usageError(`two secrets would both be the file ${r.name}`);
      names.add(r.name);
    }
    const l = layoutFrom(values, io);
    const secrets = await loadVaultSecrets(l, values, io, refs);
    const result = await runWithCredentials(l, { names: [], values: secrets, command, env: io.env });
    return result.exitCode;
  },
});
