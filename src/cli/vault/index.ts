import type { CommandGroup } from "../command.js";
import { audit } from "./audit.js";
import { exportMaster } from "./export-master.js";
import { get } from "./get.js";
import { grant } from "./grant.js";
import { importEnv } from "./import-env.js";
import { init } from "./init.js";
import { ls } from "./ls.js";
import { migrateFernet } from "./migrate-fernet.js";
import { policy } from "./policy.js";
import { put } from "./put.js";
import { revoke } from "./revoke.js";
import { rm } from "./rm.js";
import { rollback } from "./rollback.js";
import { rotate } from "./rotate.js";
import { run } from "./run.js";
import { serveCredentialCommand } from "./serve-credential.js";
import { unlock } from "./unlock.js";
import { verify } from "./verify.js";
import { versions } from "./versions.js";

/*
 * `keyhold vault …`: argument parsing and printing only, one file a subcommand; opening this
 * host's vault is src/app/vault-host.ts, everything else src/vault. The order here is the order of
 * `keyhold vault help`, the man page and the completions.
 */

/** `keyhold vault …`: one row per subcommand. */
export const vault: CommandGroup = {
  name: "vault",
  synopsis: "vault SUBCOMMAND [ARGS…]",
  subcommands: [
    init,
    put,
    get,
    ls,
    versions,
    rollback,
    rm,
    rotate,
    grant,
    revoke,
    unlock,
    policy,
    audit,
    verify,
    migrateFernet,
    importEnv,
    run,
    serveCredentialCommand,
    exportMaster,
  ],
};
