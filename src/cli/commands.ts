import type { Command } from "./io.js";

/**
 * Every command word and where its code lives. Modules load on demand so `keyhold run` does
 * not pay for the vault or the scanner at start-up.
 */
export interface CommandEntry {
  summary: string;
  load: () => Promise<Command>;
}

export const commands: Record<string, CommandEntry> = {
  init: {
    summary: "create the credential store, the state directory and the audit key",
    load: async () => (await import("./credstore.js")).initCommand,
  },
  set: {
    summary: "store a new credential (value from a no-echo prompt or stdin)",
    load: async () => (await import("./credstore.js")).setCommand,
  },
  import: {
    summary: "encrypt a plaintext file as a credential (--shred removes the original)",
    load: async () => (await import("./credstore.js")).importCommand,
  },
  "import-env": {
    summary: "one credential per entry of a .env file",
    load: async () => (await import("./credstore.js")).importEnvCommand,
  },
  get: {
    summary: "write a credential's value to a pipe",
    load: async () => (await import("./credstore.js")).getCommand,
  },
  run: {
    summary: "run a command with credentials in a private $CREDENTIALS_DIRECTORY",
    load: async () => (await import("./credstore.js")).runCommand,
  },
  ls: {
    summary: "list credentials and their status, never their values",
    load: async () => (await import("./credstore.js")).lsCommand,
  },
  rotate: {
    summary: "replace a credential's value, keeping earlier versions",
    load: async () => (await import("./credstore.js")).rotateCommand,
  },
  history: {
    summary: "list a credential's versions",
    load: async () => (await import("./credstore.js")).historyCommand,
  },
  rollback: {
    summary: "make an earlier version current again",
    load: async () => (await import("./credstore.js")).rollbackCommand,
  },
  rm: {
    summary: "remove a credential, overwriting its files",
    load: async () => (await import("./credstore.js")).rmCommand,
  },
  doctor: {
    summary: "audit the store and the host (--fix repairs)",
    load: async () => (await import("./credstore.js")).doctorCommand,
  },
  audit: {
    summary: "show or verify the audit log, or start a new one deliberately (--restart)",
    load: async () => (await import("./audit.js")).auditCommand,
  },
  unit: {
    summary: "render (and --install) a hardened systemd unit that loads credentials",
    load: async () => (await import("./unit.js")).unitCommand,
  },
  serve: {
    summary: "the job server (normally started by its socket unit)",
    load: async () => (await import("./serve.js")).serveCommand,
  },
  trigger: {
    summary: "ask the job server to run a job (--follow streams it and exits with its code)",
    load: async () => (await import("./trigger.js")).triggerCommand,
  },
  runs: {
    summary: "list the job server's recent runs",
    load: async () => (await import("./runs.js")).runsCommand,
  },
  scan: {
    summary: "find leaked credentials in a tree, staged changes (--staged) or git history (--history)",
    load: async () => (await import("./scan.js")).scanCommand,
  },
  vault: {
    summary: "the vault: many secrets with a key hierarchy, per-plugin access, rotation and audit",
    load: async () => (await import("./vault.js")).vaultCommand,
  },
  hook: {
    summary: "install pre-commit and commit-msg hooks that block commits holding credentials",
    load: async () => (await import("./scan.js")).hookCommand,
  },
};
