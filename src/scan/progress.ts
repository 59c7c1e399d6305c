import type { Writable } from "node:stream";

/** Receives how far a scan has come. */
export interface ScanProgress {
  update(units: number, bytes: number): void;
  done(): void;
}

export const NO_PROGRESS: ScanProgress = { update: () => {}, done: () => {} };

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

/**
 * A one-line progress display on a terminal (`\r`-rewritten, at most four times a second),
 * and nothing at all in a pipe or under CI, so logs and redirected output stay clean.
 */
export function terminalProgress(
  stream: Writable & { isTTY?: boolean },
  env: NodeJS.ProcessEnv,
  unit: string,
  now: () => number = Date.now,
): ScanProgress {
  if (!stream.isTTY || (env.CI !== undefined && env.CI !== "" && env.CI !== "false")) return NO_PROGRESS;
  const started = now();
  let last = 0;
  let shown = false;
  return {
    update(units, bytes) {
      const t = now();
      if (t - last < 250) return;
      last = t;
      const seconds = Math.max((t - started) / 1000, 0.001);
      stream.write(`\rkeyhold scan: ${units} ${unit}, ${mib(bytes)}, ${mib(bytes / seconds)}/s\x1b[K`);
      shown = true;
    },
    done() {
      if (shown) stream.write("\r\x1b[K");
    },
  };
}
