import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { EXIT_OK, usageError, writeJson, writeLine } from "../io.js";
import { COMMON, usageHint, withVault } from "./shared.js";

const SYNOPSIS = "vault ls [NS] [--json]";

export const ls = defineCommand({
  name: "vault ls",
  synopsis: SYNOPSIS,
  options: COMMON,
  async run({ values, positionals, io }) {
    if (positionals.length > 1)
      throw usageError(`unexpected argument: ${positionals[1]}`, usageHint(SYNOPSIS));
    const l = layoutFrom(values, io);
    const { vaultUsage } = await import("../../app/vault-rollout.js");
    const list = await withVault(l, values, io, async (opened) => {
      const secrets = await opened.vault.list(positionals[0]);
      // Running units that receive a secret (keyhold unit --vault) and started before its current version.
      const { users } = await vaultUsage(opened, new Set(secrets.map((s) => `${s.ns}/${s.name}`)));
      return secrets.map((s) => {
        const stale = (users.get(`${s.ns}/${s.name}`) ?? []).filter((u) => u.holds === "stale");
        return stale.length === 0 ? s : { ...s, staleIn: stale.map((u) => u.unit) };
      });
    });
    if (values.json) writeJson(io, list);
    else {
      if (list.length === 0) writeLine(io.stdout, "no secrets");
      for (const s of list) {
        writeLine(
          io.stdout,
          `${`${s.ns}/${s.name}`.padEnd(40)} v${s.version} (${s.versions} kept)  updated ${s.updated}${s.expires ? `  expires ${s.expires}` : ""}`,
        );
      }
      const stale = list.filter((s) => "staleIn" in s);
      if (stale.length > 0)
        writeLine(
          io.stdout,
          "\nrunning units that started before the current version was written (they hold an earlier one):",
        );
      for (const s of stale)
        writeLine(
          io.stdout,
          `  ${s.ns}/${s.name}: ${"staleIn" in s ? s.staleIn.join(", ") : ""} (restart them to load the current one: systemctl restart UNIT)`,
        );
    }
    return EXIT_OK;
  },
});
