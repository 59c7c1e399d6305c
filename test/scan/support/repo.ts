import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** One commit of a generated repository: files to write (string) or delete (null). */
export interface GeneratedCommit {
  message: string;
  files: Record<string, string | null>;
}

export const GIT_ENV: NodeJS.ProcessEnv = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  LANG: "C.UTF-8",
  HOME: "/nonexistent",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_AUTHOR_NAME: "Test",
  GIT_AUTHOR_EMAIL: "test@example.invalid",
  GIT_COMMITTER_NAME: "Test",
  GIT_COMMITTER_EMAIL: "test@example.invalid",
};

export function git(dir: string, args: string[], input?: string): string {
  return execFileSync("git", args, {
    cwd: dir,
    env: GIT_ENV,
    input,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
}

/** Makes `dir` a repository on branch main with one commit (a README). */
export function initRepository(dir: string): string {
  mkdirSync(dir, { recursive: true });
  git(dir, ["init", "-q", "-b", "main"]);
  writeFileSync(join(dir, "README.md"), "# a project\n");
  git(dir, ["add", "README.md"]);
  git(dir, ["commit", "-qm", "start"]);
  return dir;
}

/**
 * Builds a repository with `git fast-import` (thousands of commits per second), checks out the
 * last commit, and returns the commit ids in order (index i is commits[i]).
 */
export function buildRepository(dir: string, commits: readonly GeneratedCommit[], branch = "main"): string[] {
  git(dir, ["init", "-q", "-b", branch]);
  const chunks: Buffer[] = [];
  const push = (s: string) => chunks.push(Buffer.from(s, "utf8"));
  const data = (s: string) => {
    const bytes = Buffer.from(s, "utf8");
    push(`data ${bytes.length}\n`);
    chunks.push(bytes);
    push("\n");
  };
  let time = 1_700_000_000;
  commits.forEach((c, i) => {
    push(`commit refs/heads/${branch}\nmark :${i + 1}\n`);
    push(`committer Test <test@example.invalid> ${time++} +0000\n`);
    data(c.message);
    if (i > 0) push(`from :${i}\n`);
    for (const [path, content] of Object.entries(c.files)) {
      if (content === null) push(`D ${path}\n`);
      else {
        push(`M 100644 inline ${path}\n`);
        data(content);
      }
    }
    push("\n");
  });
  const result = spawnSync("git", ["fast-import", "--quiet"], {
    cwd: dir,
    env: GIT_ENV,
    input: Buffer.concat(chunks),
  });
  if (result.status !== 0) throw new Error(`git fast-import failed: ${result.stderr.toString()}`);
  git(dir, ["reset", "-q", "--hard", branch]);
  return git(dir, ["rev-list", "--reverse", branch]).trim().split("\n");
}

export interface KeyholdRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

const KEYHOLD_BIN = fileURLToPath(new URL("../../../../bin/keyhold.js", import.meta.url));

/** The real CLI (bin/keyhold.js) in a child process, with git's test identity in its environment. */
export function runKeyhold(
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; input?: string; prefix?: readonly string[] },
): KeyholdRun {
  const [command = process.execPath, ...rest] = [...(options.prefix ?? []), process.execPath];
  const r = spawnSync(command, [...rest, KEYHOLD_BIN, ...args], {
    cwd: options.cwd,
    env: { ...GIT_ENV, ...options.env },
    input: options.input ?? "",
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
