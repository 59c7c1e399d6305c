/**
 * A hyperfine-like comparison of whole commands, run alternately in one process so machine load
 * weighs on each alike; for measuring a change before and after (not part of `npm run bench`):
 *   node dist/bench/alternate.js RUNS 'COMMAND A' 'COMMAND B' …
 * Each command is split on spaces (no shell) and must exit 0. Prints the median of each and its
 * ratio to the first.
 */
import { alternatingMedianMs, formatMs, runProcess } from "./measure.js";

const [runs, ...lines] = process.argv.slice(2);
if (runs === undefined || lines.length === 0) {
  console.error("usage: node dist/bench/alternate.js RUNS 'COMMAND A' ['COMMAND B' …]");
  process.exit(2);
}
const medians = await alternatingMedianMs(
  lines.map((line) => () => runProcess(line.split(" "))),
  Number(runs),
);
const first = medians[0] as number;
for (const [i, line] of lines.entries()) {
  const ms = medians[i] as number;
  console.log(`${formatMs(ms).padStart(10)}  ${(ms / first).toFixed(2)}×  ${line}`);
}
