import { spawnSync } from "node:child_process";

/**
 * Reading what `strace -f -y -o FILE` recorded, for the tests that show the order of a program's
 * writes, flushes and renames, and which of its threads made them.
 */

export const haveStrace = spawnSync("strace", ["-V"], { stdio: "ignore" }).status === 0;

export interface TracedCall {
  /** The thread that made the call (strace -f starts each line with it; the main thread's is the pid). */
  tid: number;
  name: string;
  args: string;
  /** Line numbers in strace's output where the call entered and returned. */
  entry: number;
  exit: number;
}

/** The calls in an `strace -f -y` output, each with where it entered and where it returned. */
export function parseTrace(text: string): TracedCall[] {
  const calls: TracedCall[] = [];
  const pending = new Map<string, Omit<TracedCall, "exit">>();
  text.split("\n").forEach((line, i) => {
    const resumed = /^(\d+)\s+<\.\.\. (\w+) resumed>/.exec(line);
    if (resumed) {
      const call = pending.get(resumed[1] as string);
      if (call) calls.push({ ...call, exit: i });
      pending.delete(resumed[1] as string);
      return;
    }
    const m = /^(\d+)\s+(\w+)\((.*)$/.exec(line);
    if (!m) return;
    const call = { tid: Number(m[1]), name: m[2] as string, args: m[3] as string, entry: i };
    if (line.endsWith("<unfinished ...>")) pending.set(m[1] as string, call);
    else calls.push({ ...call, exit: i });
  });
  return calls;
}

/** The path strace -y shows for a call's first argument, a file descriptor. */
export const fdPath = (c: TracedCall): string | undefined => /^\d+<([^>]*)>/.exec(c.args)?.[1];

/** Whether `c` is an fsync or fdatasync of the file or directory at `path`. */
export const isSync = (c: TracedCall, path: string | undefined): boolean =>
  (c.name === "fsync" || c.name === "fdatasync") && path !== undefined && fdPath(c) === path;
