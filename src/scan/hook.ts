import { chmodSync, existsSync, lstatSync, mkdirSync, renameSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { writeFileAtomic } from "../durable/index.js";
import { readProtectedFile } from "../load/index.js";
import { SecretError } from "../secret/index.js";
import { gitOutput } from "./git.js";
import { shellQuote } from "./finding.js";

/** Marks a hook keyhold wrote, so it may be replaced without --force. */
export const HOOK_MARKER = "# keyhold-scan-hook";

export interface HookInstallOptions {
  /** The command that runs keyhold, e.g. [process.execPath, "/path/bin/keyhold.js"]. */
  keyhold: readonly string[];
  /** Replace a pre-commit hook keyhold did not write (it is kept as pre-commit.keyhold-backup). */
  force?: boolean;
  env?: NodeJS.ProcessEnv;
}

export function renderHook(keyhold: readonly string[]): string {
  return `#!/bin/sh
${HOOK_MARKER}: written by 'keyhold hook install'.
# Blocks a commit whose staged changes hold a credential: keyhold scan --staged exits 3 on
# findings (and 2 if it cannot scan, which blocks too). After checking a finding is not a
# secret, accept it with 'keyhold scan --staged --update-baseline' or a 'keyhold:allow' comment.
exec ${keyhold.map(shellQuote).join(" ")} scan --staged
`;
}

const HOOK_MAX_BYTES = 1024 * 1024;

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * Whether the hook there is one keyhold wrote. The hooks directory may be tracked by the
 * repository (core.hooksPath=.husky): a link (to /dev/zero, a FIFO, anything) or an oversized
 * file is someone else's and is never read.
 */
function isKeyholdHook(path: string): boolean {
  const st = lstatSync(path);
  if (!st.isFile() || st.size > HOOK_MAX_BYTES) return false;
  return readProtectedFile(path, { permissions: "any", owners: "any", maxBytes: HOOK_MAX_BYTES })
    .toString("utf8")
    .includes(HOOK_MARKER);
}

/** Installs the pre-commit hook (honouring core.hooksPath); returns its path. */
export async function installHook(dir: string, options: HookInstallOptions): Promise<string> {
  const cwd = resolve(dir);
  const hooksDir = (await gitOutput(["rev-parse", "--git-path", "hooks"], { cwd, env: options.env }))
    .toString("utf8")
    .trim();
  const absoluteHooks = isAbsolute(hooksDir) ? hooksDir : join(cwd, hooksDir);
  mkdirSync(absoluteHooks, { recursive: true });
  const hookPath = join(absoluteHooks, "pre-commit");
  if (existsSync(hookPath) || isLink(hookPath)) {
    if (!isKeyholdHook(hookPath)) {
      if (!options.force) {
        throw new SecretError("HOOK_EXISTS", `a pre-commit hook already exists: ${hookPath}`, {
          hint: "add 'keyhold scan --staged' to it yourself, or rerun with --force (the old hook is kept as pre-commit.keyhold-backup)",
        });
      }
      renameSync(hookPath, `${hookPath}.keyhold-backup`);
    }
  }
  writeFileAtomic(hookPath, renderHook(options.keyhold), { mode: 0o755 });
  chmodSync(hookPath, 0o755);
  return hookPath;
}
