import type { RolloutOptions } from "../app/rollout.js";
import type { OptionTable } from "./command.js";
import { type CliIo, usageError, writeLine } from "./io.js";

/*
 * --restart and its options, as `rotate` and `vault put`/`vault rollback` take them: the new
 * version, then each running unit that loads it restarted and checked (src/app/rollout.ts).
 */

/** --restart's defaults: a restarted unit must stay active this long; one start may take this long. */
const SETTLE_DEFAULT_S = 5;
const TIMEOUT_DEFAULT_S = 90;

/** The options; `what` is how the restart option names the thing ("NAME", "NS/NAME"). */
export const restartOptions = (what: string) =>
  ({
    restart: {
      type: "boolean",
      description: `then restart every running unit that loads ${what}, one at a time, each waited for until healthy`,
    },
    settle: {
      type: "string",
      arg: "SECONDS",
      description: `with --restart: how long a restarted unit must stay active (default ${SETTLE_DEFAULT_S})`,
    },
    timeout: {
      type: "string",
      arg: "SECONDS",
      description: `with --restart: how long one unit's start, its health check included, may take (default ${TIMEOUT_DEFAULT_S})`,
    },
    "no-rollback": {
      type: "boolean",
      description: "with --restart: leave the new version current when a unit fails (default: roll back)",
    },
  }) as const satisfies OptionTable;

export const RESTART_SYNOPSIS = "[--restart [--settle SECONDS] [--timeout SECONDS] [--no-rollback]]";

/** A whole number of seconds (0 to 3600) for --settle and --timeout. */
export function secondsArg(option: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback * 1000;
  if (!/^[0-9]{1,4}$/.test(text) || Number(text) > 3600)
    throw usageError(
      `--${option} must be a whole number of seconds up to 3600, got ${JSON.stringify(text.slice(0, 20))}`,
    );
  return Number(text) * 1000;
}

interface RestartValues {
  restart?: boolean;
  settle?: string;
  timeout?: string;
  "no-rollback"?: boolean;
}

/**
 * The rollout's options from the command line (each step printed on stdout), or undefined without
 * --restart; checked before anything is read or written.
 */
export function rolloutFrom(values: RestartValues, io: CliIo): RolloutOptions | undefined {
  const restart = values.restart ?? false;
  if (!restart && (values.settle !== undefined || values.timeout !== undefined || values["no-rollback"]))
    throw usageError("--settle, --timeout and --no-rollback go with --restart");
  const settleMs = secondsArg("settle", values.settle, SETTLE_DEFAULT_S);
  const timeoutMs = secondsArg("timeout", values.timeout, TIMEOUT_DEFAULT_S);
  if (!restart) return undefined;
  return {
    settleMs,
    timeoutMs,
    rollback: !values["no-rollback"],
    report: (line) => writeLine(io.stdout, line),
  };
}
