import type { RolloutResult } from "../../app/rollout.js";
import { type CliIo, EXIT_OK, writeLine } from "../io.js";

/** What `vault put --restart` and `vault rollback --restart` print when the units moved; a failure is thrown. */
export async function restartedSummary(io: CliIo, written: string, result: RolloutResult): Promise<number> {
  if (result.outcome !== "done") {
    const { rolloutFailure } = await import("../../app/rollout.js");
    throw rolloutFailure(`vault secret ${result.name}`, result);
  }
  const n = result.restarted.length;
  writeLine(io.stdout, `${written}; ${n} unit${n === 1 ? "" : "s"} restarted and healthy`);
  return EXIT_OK;
}
