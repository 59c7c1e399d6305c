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
  /** Replace hooks keyhold did not write (each is kept as <hook>.keyhold-backup). */
  force?: boolean;
  env?: NodeJS.ProcessEnv;
}

/**
 * The hooks keyhold installs. pre-commit scans the staged blobs; it runs before the message is
 * written, so a key pasted into the message is caught by commit-msg, which git gives the message
 * file (`git commit -m` included; `--no-verify` skips both).
 */
const HOOKS = [
  {
    name: "pre-commit",
    scan: "scan --staged",
    what: "Blocks a commit whose staged changes hold a credential",
  },
  {
    name: "commit-msg",
    scan: 'scan --commit-message "$1"',
    what: "Blocks a commit whose message holds a credential",
  },
] as const;

/**
 * The server-side hook, for a bare repository: git hands pre-receive one `<old> <new> <ref>`
 * line per ref on stdin and refuses the whole push when it exits non-zero.
 */
const PRE_RECEIVE = {
  name: "pre-receive",
  scan: "scan --pre-receive --no-progress",
  what: "Refuses a push whose new commits add a credential",
} as const;

export type HookName = (typeof HOOKS)[number]["name"] | "pre-receive";

export function renderHook(keyhold: readonly string[], name: HookName = "pre-commit"): string {
  const hook = name === "pre-receive" ? PRE_RECEIVE : HOOKS.find((h) => h.name === name)!;
  return `#!/bin/sh
${HOOK_MARKER}: written by 'keyhold hook install'.
# ${hook.what}: keyhold ${hook.scan.split(" ").slice(0, 2).join(" ")} exits 3 on
# findings (and 2 if it cannot scan, which blocks too). After checking a finding is not a
# secret, accept it with --update-baseline or a 'keyhold:allow' comment.
exec ${keyhold.map(shellQuote).join(" ")} ${hook.scan}
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

/**
 * Installs the pre-commit and commit-msg hooks (honouring core.hooksPath); returns their paths.
 * Every existing hook is checked before any is written: a refusal changes nothing.
 */
export async function installHook(dir: string, options: HookInstallOptions): Promise<string[]> {
  const cwd = resolve(dir);
  const hooksDir = (await gitOutput(["rev-parse", "--git-path", "hooks"], { cwd, env: options.env }))
    .toString("utf8")
    .trim();
  return writeHooks(
    isAbsolute(hooksDir) ? hooksDir : join(cwd, hooksDir),
    HOOKS.map((h) => h.name),
    options,
    "add 'keyhold scan --staged' (pre-commit) and 'keyhold scan --commit-message \"$1\"' (commit-msg) to it yourself, or rerun with --force (the old hook is kept as <hook>.keyhold-backup)",
  );
}

/**
 * Installs the pre-receive hook into a bare repository (a git server's copy): every push is
 * scanned for what it adds and refused on a finding. `dir` is the bare repository itself; it is
 * named to git explicitly (GIT_DIR), since keyhold never takes a directory for a bare
 * repository on its own (safe.bareRepository=explicit). Returns the hook's path.
 */
export async function installPreReceiveHook(dir: string, options: HookInstallOptions): Promise<string> {
  const gitDir = resolve(dir);
  const git = { cwd: gitDir, env: { ...(options.env ?? process.env), GIT_DIR: gitDir } };
  const bare = await gitOutput(["rev-parse", "--is-bare-repository"], git).catch(() => Buffer.from(""));
  if (bare.toString("utf8").trim() !== "true") {
    throw new SecretError("NOT_A_GIT_REPOSITORY", `not a bare repository: ${dir}`, {
      hint: "--pre-receive is for the server's bare repository (the directory holding HEAD, objects/ and refs/); use 'keyhold hook install' in a work tree",
    });
  }
  const hooksDir = (await gitOutput(["rev-parse", "--git-path", "hooks"], git)).toString("utf8").trim();
  const [path] = await writeHooks(
    isAbsolute(hooksDir) ? hooksDir : join(gitDir, hooksDir),
    ["pre-receive"],
    options,
    "add 'keyhold scan --pre-receive' to it yourself (it reads the same stdin), or rerun with --force (the old hook is kept as pre-receive.keyhold-backup)",
  );
  return path!;
}

/** Writes hooks into `hooksDir`; every existing one is checked before any is written. */
function writeHooks(
  hooksDir: string,
  names: readonly HookName[],
  options: HookInstallOptions,
  hint: string,
): string[] {
  const paths = names.map((name) => join(hooksDir, name));
  const foreign = paths.filter((p) => (existsSync(p) || isLink(p)) && !isKeyholdHook(p));
  if (foreign.length > 0 && !options.force) {
    throw new SecretError("HOOK_EXISTS", `a hook keyhold did not write already exists: ${foreign.join(", ")}`, {
      hint,
    });
  }
  mkdirSync(hooksDir, { recursive: true });
  for (const p of foreign) renameSync(p, `${p}.keyhold-backup`);
  for (const [i, name] of names.entries()) {
    writeFileAtomic(paths[i]!, renderHook(options.keyhold, name), { mode: 0o755 });
    chmodSync(paths[i]!, 0o755);
  }
  return paths;
}
