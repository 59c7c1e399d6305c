import type { AnyCommand } from "./command.js";

/**
 * Every command word, its one-line summary and where its definition lives. Modules load on
 * demand so `keyhold run` does not pay for the vault or the scanner at start-up; the man page
 * and the completions load them all (scripts/share.mjs).
 */
export interface CommandEntry {
  summary: string;
  load: () => Promise<AnyCommand>;
}

export const commands: Record<string, CommandEntry> = {
  init: {
    summary: "create the credential store, the state directory and the audit key",
    load: async () => (await import("./credstore.js")).init,
  },
  set: {
    summary: "store a new credential (value from a no-echo prompt or stdin)",
    load: async () => (await import("./credstore.js")).set,
  },
  import: {
    summary: "encrypt a plaintext file as a credential (--shred removes the original)",
    load: async () => (await import("./credstore.js")).importFile,
  },
  "import-env": {
    summary: "one credential per entry of a .env file",
    load: async () => (await import("./credstore.js")).importEnv,
  },
  get: {
    summary: "write a credential's value to a pipe",
    load: async () => (await import("./credstore.js")).get,
  },
  run: {
    summary: "run a command with credentials in a private $CREDENTIALS_DIRECTORY",
    load: async () => (await import("./run.js")).run,
  },
  ls: {
    summary: "list credentials and their status, never their values",
    load: async () => (await import("./credstore.js")).ls,
  },
  rotate: {
    summary:
      "replace a credential's value, keeping earlier versions (--restart moves the units that load it)",
    load: async () => (await import("./credstore.js")).rotate,
  },
  status: {
    summary: "which units load a credential, and whether each holds its current version",
    load: async () => (await import("./credstore.js")).status,
  },
  history: {
    summary: "list a credential's versions",
    load: async () => (await import("./credstore.js")).history,
  },
  rollback: {
    summary: "make an earlier version current again",
    load: async () => (await import("./credstore.js")).rollback,
  },
  rm: {
    summary: "remove a credential, overwriting its files",
    load: async () => (await import("./credstore.js")).rm,
  },
  doctor: {
    summary: "audit the store and the host (--fix repairs)",
    load: async () => (await import("./credstore.js")).doctor,
  },
  audit: {
    summary: "show or verify the audit log, or start a new one deliberately (--restart)",
    load: async () => (await import("./audit.js")).audit,
  },
  unit: {
    summary: "render (and --install) a hardened systemd unit that loads credentials",
    load: async () => (await import("./unit.js")).unit,
  },
  serve: {
    summary: "the job server (normally started by its socket unit)",
    load: async () => (await import("./serve.js")).serve,
  },
  trigger: {
    summary: "ask the job server to run a job (--follow streams it and exits with its code)",
    load: async () => (await import("./trigger.js")).trigger,
  },
  runs: {
    summary: "list the job server's recent runs",
    load: async () => (await import("./runs.js")).runs,
  },
  scan: {
    summary: "find leaked credentials in a tree, staged changes (--staged) or git history (--history)",
    load: async () => (await import("./scan.js")).scan,
  },
  vault: {
    summary: "the vault: many secrets with a key hierarchy, per-plugin access, rotation and audit",
    load: async () => (await import("./vault/index.js")).vault,
  },
  hook: {
    summary: "install pre-commit and commit-msg hooks that block commits holding credentials",
    load: async () => (await import("./scan.js")).hook,
  },
};
