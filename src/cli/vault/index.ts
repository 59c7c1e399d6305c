import { defineGroup } from "../command.js";

/*
 * `keyhold vault …`: argument parsing and printing only, one file a subcommand; opening this
 * host's vault is src/app/vault-host.ts, everything else src/vault. The order here is the order of
 * `keyhold vault help`, the man page and the completions. Each subcommand's module loads when it
 * runs: `keyhold vault get` does not load put's, rotate's or the unit renderer that run's uses.
 */

/** `keyhold vault …`: one row per subcommand. */
export const vault = defineGroup({
  name: "vault",
  synopsis: "vault SUBCOMMAND [ARGS…]",
  subcommands: [
    {
      word: "init",
      summary:
        "create a vault (or, with --join, take this host's copy of a shared vault's master from stdin)",
      load: async () => (await import("./init.js")).init,
    },
    {
      word: "put",
      summary:
        "store a new version (value from a no-echo prompt, stdin, or a plaintext file to migrate; one final newline dropped unless --keep-newline)",
      load: async () => (await import("./put.js")).put,
    },
    { word: "get", summary: "write a value to a pipe", load: async () => (await import("./get.js")).get },
    {
      word: "ls",
      summary: "list secrets: names and metadata, never values",
      load: async () => (await import("./ls.js")).ls,
    },
    {
      word: "versions",
      summary: "list a secret's kept versions",
      load: async () => (await import("./versions.js")).versions,
    },
    {
      word: "rollback",
      summary: "make an earlier version current",
      load: async () => (await import("./rollback.js")).rollback,
    },
    {
      word: "rm",
      summary: "delete a secret and all its versions",
      load: async () => (await import("./rm.js")).rm,
    },
    {
      word: "rotate",
      summary:
        "makes new keys (not new values: vault put stores a new value of a secret), on schedule or on an event: kek rewraps; master (also in --all, and --due when due) replaces the integrity key and MACs every record again; dek --rewrite re-seals",
      load: async () => (await import("./rotate.js")).rotate,
    },
    {
      word: "grant",
      summary: "let a plugin reach a secret (re-authentication)",
      load: async () => (await import("./grant.js")).grant,
    },
    {
      word: "revoke",
      summary: "take a grant away (re-authentication)",
      load: async () => (await import("./revoke.js")).revoke,
    },
    {
      word: "unlock",
      summary: "end a plugin's lockout on this host now and forget its recent denials (re-authentication)",
      load: async () => (await import("./unlock.js")).unlock,
    },
    {
      word: "policy",
      summary: "show policies, or register a plugin's manifest",
      load: async () => (await import("./policy.js")).policy,
    },
    {
      word: "audit",
      summary: "show the vault's audit records, or verify store and log (exit 3 on tampering)",
      load: async () => (await import("./audit.js")).audit,
    },
    {
      word: "verify",
      summary: "check the whole store's integrity (exit 3 on problems)",
      load: async () => (await import("./verify.js")).verify,
    },
    {
      word: "migrate-fernet",
      summary: "import a legacy Fernet-encrypted JSON store, all or nothing",
      load: async () => (await import("./migrate-fernet.js")).migrateFernet,
    },
    {
      word: "import-env",
      summary:
        "import every entry of a .env file into namespace NS, all or nothing (same values left as they are; other values refused unless --overwrite)",
      load: async () => (await import("./import-env.js")).importEnv,
    },
    {
      word: "run",
      summary: "run COMMAND with vault secrets as files NAME in a private $CREDENTIALS_DIRECTORY",
      load: async () => (await import("./run.js")).run,
    },
    {
      word: "serve-credential",
      summary:
        "answer one vault credential request of SERVICE (run by SERVICE-vault@.service, which keyhold unit --vault renders)",
      load: async () => (await import("./serve-credential.js")).serveCredentialCommand,
    },
    {
      word: "export-master",
      summary: "write the master key to a pipe, for another host's --join (re-authentication)",
      load: async () => (await import("./export-master.js")).exportMaster,
    },
  ],
});
