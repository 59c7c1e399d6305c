import { openStateAuditLog } from "../../audit/index.js";
import { printable } from "../../secret/printable.js";
import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { EXIT_OK, usageError, writeJson, writeLine } from "../io.js";
import { COMMON, usageHint, verifyVault } from "./shared.js";

const SYNOPSIS = "vault audit [verify] [--json]";

export const audit = defineCommand({
  name: "vault audit",
  synopsis: SYNOPSIS,
  completePositionals: ["verify"],
  options: COMMON,
  async run({ values, positionals, io }) {
    const l = layoutFrom(values, io);
    if (positionals.length > 1 || (positionals[0] !== undefined && positionals[0] !== "verify")) {
      throw usageError(`unexpected argument: ${positionals.at(-1)}`, usageHint(SYNOPSIS));
    }
    if (positionals[0] === "verify") return verifyVault(l, values, io, true);
    const log = await openStateAuditLog(l.state, l.creds);
    const records = (await log.read()).filter((r) => r.op.startsWith("vault."));
    if (values.json) writeJson(io, records);
    else
      for (const r of records)
        writeLine(
          io.stdout,
          printable(
            `${r.seq} ${r.time} uid=${r.uid} ${r.op} ${r.name ?? "-"} ${r.result}${r.code ? ` ${r.code}` : ""}`,
          ),
        );
    return EXIT_OK;
  },
});
