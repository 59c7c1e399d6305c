import { spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The checkout these tests run from (dist/test/support/ is three levels below it). */
export const CHECKOUT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/**
 * Why the user `prefix` runs as (setpriv --reuid=…) cannot start this checkout's keyhold, or
 * undefined when it can. A clone in a directory closed to others (/root/keyhold) is a normal
 * place for one: a test that needs another user to run keyhold skips there with this reason
 * rather than failing on "Cannot find module".
 */
export function checkoutUnreadableBy(prefix: readonly string[]): string | undefined {
  const [command = "setpriv", ...rest] = prefix;
  const files = ["bin/keyhold.js", "dist/src/cli/main.js", "package.json"].map((f) => join(CHECKOUT, f));
  const r = spawnSync(command, [
    ...rest,
    "/bin/sh",
    "-c",
    'for f; do test -r "$f" || exit 1; done',
    "sh",
    ...files,
  ]);
  return r.status === 0
    ? undefined
    : `the checkout ${CHECKOUT} is not readable by another user (clone it somewhere others can read to run this test)`;
}
