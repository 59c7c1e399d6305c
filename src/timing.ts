/**
 * KEYHOLD_TRACE_TIMING=1: where a command's time goes, for the benchmarks (bench/core.ts) and
 * for anyone asking why a start is slow. Code marks the end of each phase with `phase(name)`;
 * bin/keyhold.js prints the phases to stderr when the command is done, one line each:
 *   keyhold: timing: <phase> <ms since the previous phase> ms (at <ms since the process started> ms)
 * Phase names and times only: never a value, a path or an argument. Without the variable a mark
 * costs one comparison and records nothing, so a long-lived server collects no entries.
 */
const tracing = process.env.KEYHOLD_TRACE_TIMING === "1";

export function phase(name: string): void {
  if (tracing) performance.mark(`keyhold:${name}`);
}
