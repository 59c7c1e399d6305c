import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { constants as osConstants } from "node:os";
import type { StoreLayout } from "../credstore/index.js";
import { KeyholdError } from "../secret/index.js";
import { systemTool } from "../systemd/index.js";

/** The account a command runs as (`run --user`), as /etc/passwd has it. */
export interface RunAsUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** Finds USER (a name, or a uid in digits) in /etc/passwd. */
export function lookupUser(user: string): RunAsUser {
  const passwd = readFileSync("/etc/passwd", "utf8");
  for (const line of passwd.split("\n")) {
    const [name, , uid, gid, , home, shell] = line.split(":");
    if (name === undefined || uid === undefined || gid === undefined) continue;
    if (name === user || (uid === user && /^\d+$/.test(user))) {
      return { name, uid: Number(uid), gid: Number(gid), home: home || "/", shell: shell || "/bin/sh" };
    }
  }
  throw new KeyholdError("USAGE", `unknown user: ${user}`);
}

/** The environment a command gets when it runs as another user: that user's, not root's. */
export function userEnvironment(user: RunAsUser, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    PATH: env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    LANG: env.LANG ?? "C.UTF-8",
    ...(env.TERM === undefined ? {} : { TERM: env.TERM }),
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    SHELL: user.shell,
  };
}

/** Refuses `--systemd` where systemd is not PID 1: there is no service manager to decrypt. */
export function assertSystemdRunning(): void {
  if (!existsSync("/run/systemd/system")) {
    throw new KeyholdError("USAGE", "--systemd needs systemd running as PID 1 on this host", {
      hint: "run without --systemd",
    });
  }
}

/**
 * The systemd-run arguments that let PID 1 decrypt, as for a service: a transient unit with one
 * LoadCredentialEncrypted= per credential, its stdio piped to ours, waited for and collected.
 */
export function systemdRunArgs(
  l: StoreLayout,
  names: readonly string[],
  command: readonly string[],
  user: RunAsUser | undefined,
): string[] {
  const args = ["--pipe", "--wait", "--collect", "--quiet", "--service-type=exec"];
  if (user) args.push(`--uid=${user.uid}`, `--gid=${user.gid}`);
  for (const n of names) args.push("-p", `LoadCredentialEncrypted=${n}:${l.store}/${n}`);
  args.push("--", ...command);
  return args;
}

/** Runs systemd-run with `args` and resolves with the command's exit code (128+N for signal N). */
export function spawnSystemdRun(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const child = spawn(systemTool("systemd-run"), args, { stdio: "inherit", env });
    child.on("error", reject);
    child.on("exit", (code, signal) =>
      resolve(code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0)),
    );
  });
}
