import { spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The checkout these tests run from (dist/test/support/ is three levels below it). */
export const CHECKOUT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** Runs what follows as uid/gid 65534 (nobody), with no supplementary groups. */
export const AS_NOBODY: readonly string[] = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];

const verdicts = new Map<string, string | undefined>();

/**
 * Why the user `prefix` runs as (setpriv --reuid=… …) cannot start this checkout's keyhold, or
 * undefined when it can. A clone in a directory closed to others (/root/keyhold) is a normal
 * place for one: a test that needs another user to run keyhold skips there with this reason
 * rather than failing on "Cannot find module".
 */
export function checkoutUnreadableBy(prefix: readonly string[]): string | undefined {
  const key = prefix.join(" ");
  if (!verdicts.has(key)) {
    const [command = "setpriv", ...rest] = prefix;
    const r = spawnSync(command, [...rest, process.execPath, join(CHECKOUT, "bin/keyhold.js"), "--version"], {
      stdio: "ignore",
    });
    verdicts.set(
      key,
      r.status === 0
        ? undefined
        : `another user cannot run the keyhold of ${CHECKOUT} (a directory closed to others?): clone it where others can read to run this test`,
    );
  }
  return verdicts.get(key);
}
