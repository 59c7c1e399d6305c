import {
  KEY_LEVELS,
  type KeyLevel,
  rotateVaultKeys,
  rotationTimerUnits,
  vaultKeyStatus,
  writeRotationTimer,
} from "../../app/vault-rotation.js";
import type { StoreLayout } from "../../credstore/index.js";
import type { RotationResult, Vault } from "../../vault/index.js";
import { layoutFrom } from "../args.js";
import { defineCommand } from "../command.js";
import { type CliIo, EXIT_OK, usageError, writeJson, writeLine } from "../io.js";
import { COMMON, reauth, usageHint, withVault } from "./shared.js";

const SYNOPSIS =
  "vault rotate master|kek|dek [NS] [--rewrite] | --due | --all --reason TEXT | --status | --render-timer [--exec PATH] [--write-dir DIR]";

function printRotations(io: CliIo, json: boolean | undefined, results: RotationResult[]): void {
  if (json) {
    writeJson(io, results);
    return;
  }
  if (results.length === 0) writeLine(io.stdout, "nothing is due");
  for (const r of results) {
    writeLine(
      io.stdout,
      `rotated ${r.level}: now version ${r.version}${r.namespaces === undefined ? "" : ` (${r.namespaces} namespaces rewrapped)`}`,
    );
  }
}

function printStatus(io: CliIo, json: boolean | undefined, vault: Vault): void {
  const status = vaultKeyStatus(vault);
  if (json) {
    writeJson(io, status);
    return;
  }
  const { keys, schedule } = status;
  writeLine(
    io.stdout,
    `master v${keys.master} (rotated ${schedule.lastMaster}, every ${schedule.master ?? "-"})`,
  );
  writeLine(
    io.stdout,
    `kek    v${keys.kek} (rotated ${schedule.lastKek ?? "-"}, every ${schedule.kek ?? "-"})`,
  );
  writeLine(io.stdout, `dek    rotated ${schedule.lastDek ?? "-"}, every ${schedule.dek ?? "-"}`);
}

/** --render-timer: print the units that run `rotate --due` daily, or write them to `dir`. */
function renderTimer(l: StoreLayout, exec: string | undefined, dir: string | undefined, io: CliIo): number {
  if (dir === undefined) {
    io.stdout.write(
      rotationTimerUnits(l, exec)
        .map((f) => f.content)
        .join("\n"),
    );
    return EXIT_OK;
  }
  const files = writeRotationTimer(l, exec, dir);
  writeLine(io.stdout, `wrote ${files.map((f) => f.path).join(" and ")} to ${dir}`);
  return EXIT_OK;
}

export const rotate = defineCommand({
  name: "vault rotate",
  synopsis: SYNOPSIS,
  completePositionals: KEY_LEVELS,
  options: {
    ...COMMON,
    rewrite: { type: "boolean", description: "dek: also re-encrypt every value under the new key" },
    due: { type: "boolean", description: "rotate what the schedule says is due (the timer's job)" },
    all: { type: "boolean", description: "rotate every key now, after an incident (needs --reason)" },
    reason: { type: "string", arg: "TEXT", description: "why, recorded in the audit log" },
    status: { type: "boolean", description: "show the key versions and the schedule" },
    "render-timer": {
      type: "boolean",
      description: "print (or write) a systemd service and timer for --due",
    },
    exec: {
      type: "string",
      arg: "PATH",
      complete: "file",
      description: "with --render-timer: the keyhold executable (default /usr/local/bin/keyhold)",
    },
    "write-dir": {
      type: "string",
      arg: "DIR",
      complete: "directory",
      description: "with --render-timer: write the units to DIR",
    },
  },
  async run({ values, positionals, io }) {
    const l = layoutFrom(values, io);
    if (values["render-timer"]) return renderTimer(l, values.exec, values["write-dir"], io);
    const [level, ns, extra] = positionals;
    if (extra !== undefined) throw usageError(`unexpected argument: ${extra}`, usageHint(SYNOPSIS));
    const modes = [values.due, values.all, values.status, level !== undefined].filter(Boolean).length;
    if (modes !== 1)
      throw usageError("give one of: master, kek, dek [NS], --due, --all, --status", usageHint(SYNOPSIS));
    if (values.all && (values.reason === undefined || values.reason.trim() === ""))
      throw usageError("--all needs --reason TEXT (it is audited)");
    if (level !== undefined && !(KEY_LEVELS as readonly string[]).includes(level))
      throw usageError(`unknown key level: ${level}`, usageHint(SYNOPSIS));
    if (ns !== undefined && level !== "dek") throw usageError("only dek rotation takes a namespace");
    return withVault(l, values, io, async ({ vault, pass }) => {
      if (values.status) {
        printStatus(io, values.json, vault);
        return EXIT_OK;
      }
      const results = await rotateVaultKeys(
        vault,
        {
          due: values.due,
          all: values.all,
          level: level as KeyLevel,
          ns,
          rewrite: values.rewrite,
          reason: values.reason,
        },
        reauth(pass),
      );
      printRotations(io, values.json, results);
      return EXIT_OK;
    });
  },
});
