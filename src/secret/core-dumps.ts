import { writeFileSync } from "node:fs";

/**
 * Keeps this process's memory out of its core dumps by writing 0 to /proc/self/coredump_filter
 * (core(5): the bits select which mappings a dump includes; 0 selects none, so a dump holds
 * registers and notes but no heap where a key could sit). Node cannot call setrlimit(RLIMIT_CORE)
 * or prctl(PR_SET_DUMPABLE); this is the part of both that a process can do to itself. Programs
 * it starts inherit the setting. Returns whether it took effect (false off Linux or without /proc).
 */
export function excludeMemoryFromCoreDumps(): boolean {
  try {
    writeFileSync("/proc/self/coredump_filter", "0");
    return true;
  } catch {
    return false;
  }
}
