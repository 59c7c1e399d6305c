import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";

/** A real unprivileged account made for one test (useradd), removed again with remove(). */
export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  /** Command prefix that runs what follows as this user only (no supplementary groups). */
  prefix: readonly string[];
  remove(): void;
}

export function createTestUser(label: string): TestUser {
  const name = `kh-${label}-${randomBytes(3).toString("hex")}`.slice(0, 31);
  execFileSync("useradd", [
    "--system",
    "--user-group",
    "--no-create-home",
    "--shell",
    "/usr/sbin/nologin",
    name,
  ]);
  const uid = Number(execFileSync("id", ["-u", name], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", name], { encoding: "utf8" }).trim());
  return {
    name,
    uid,
    gid,
    prefix: ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups"],
    remove: () => {
      execFileSync("userdel", [name], { stdio: "ignore" });
    },
  };
}
