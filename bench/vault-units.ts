/**
 * What a vault secret costs a service at start (docs/units.md "Vault secrets"), measured side by
 * side in one run inside a container running a real systemd: a transient unit that receives one
 * credential through `keyhold unit --vault` (systemd asks the root answering socket, a keyhold
 * instance checks the caller and the grant, reads the vault and answers) against the same unit
 * receiving one credstore file through LoadCredentialEncrypted=. Both are started the same way:
 *   systemd-run --wait --unit=NAME true
 * with the credential from a drop-in that `keyhold unit --drop-in` rendered for NAME.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { renderUnit } from "../src/units/index.js";
import { bootForSuite, KEYHOLD_INSIDE, PROJECT_INSIDE } from "../test/harness/index.js";
import { type Comparison, loadNow, printComparison, printEnvironment, printHeader } from "./measure.js";

// Medians of two commands run alternately N times inside the container, after a warm-up.
const PAIRED_SOURCE = `import { spawnSync } from "node:child_process";
const [runs, a, b] = process.argv.slice(2);
const once = (line) => {
  const argv = line.split(" ");
  const t = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
  if (r.status !== 0) { process.stderr.write(line + " exited " + r.status + ": " + r.stderr); process.exit(1); }
  return Number(process.hrtime.bigint() - t) / 1e6;
};
const ta = [], tb = [];
for (let i = 0; i < Number(runs) + 2; i++) {
  const x = once(a), y = once(b);
  if (i >= 2) { ta.push(x); tb.push(y); }
}
const median = (xs) => { xs.sort((p, q) => p - q); const m = xs.length >> 1; return xs.length % 2 ? xs[m] : (xs[m - 1] + xs[m]) / 2; };
process.stdout.write(JSON.stringify([median(ta), median(tb)]));
`;

const keyhold = (...args: string[]) => ["/usr/bin/node", KEYHOLD_INSIDE, ...args];

async function main(): Promise<void> {
  const suite = await bootForSuite({ label: "bench-vunits" });
  const c = suite.container;
  if (c === undefined) {
    console.log(`\n### vault secrets for units\n\nnot measured: ${suite.skipReason ?? "no container"}`);
    return;
  }
  try {
    c.writeFile("/etc/ld.so.cache", readFileSync("/etc/ld.so.cache"));
    c.writeFile("/srv/bench/paired.mjs", PAIRED_SOURCE);
    const value = `bench-${randomBytes(24).toString("hex")}`;
    await c.check(keyhold("init"));
    await c.check(keyhold("set", "bench_key"), { input: value });
    await c.check(keyhold("vault", "init"));
    await c.check(keyhold("vault", "put", "bench/bench_key"), { input: value });
    // Drop-ins for the units systemd-run creates (a drop-in applies to a transient unit too; it
    // cannot be verified without a unit file, so it is written directly): one with the vault
    // secret, one with the credstore file.
    const vault = renderUnit({
      service: "kh-bench-vault",
      mode: "standard",
      dropIn: true,
      vault: [{ ns: "bench", name: "bench_key" }],
      keyholdRoot: PROJECT_INSIDE,
    });
    const file = renderUnit({
      service: "kh-bench-file",
      mode: "standard",
      dropIn: true,
      credentials: ["bench_key"],
    });
    await c.installUnits([...vault.files, ...file.files]);
    c.writeFile(
      "/srv/bench/manifest.json",
      JSON.stringify({
        plugin: "kh-bench-vault",
        needs: [{ ns: "bench", name: "bench_key", ops: ["read"] }],
      }),
    );
    await c.check(keyhold("vault", "policy", "load", "/srv/bench/manifest.json"));
    await c.check(keyhold("vault", "grant", "kh-bench-vault", "bench/bench_key", "--ops", "read"));
    await c.check(["systemctl", "start", ...vault.vaultSockets]);

    // A credential that fails to load fails the unit (243/CREDENTIALS), so --wait exits non-zero.
    const start = (unit: string) =>
      `systemd-run --wait --quiet --unit=${unit} -p CollectMode=inactive-or-failed /bin/true`;
    const vaultStart = start("kh-bench-vault");
    const fileStart = start("kh-bench-file");
    const r = await c.check(["/usr/bin/node", "/srv/bench/paired.mjs", "15", vaultStart, fileStart], {
      timeoutMs: 300_000,
    });
    const [vaultMs, fileMs] = JSON.parse(r.stdout) as [number, number];
    const results: Comparison[] = [
      {
        what: "start a unit that receives one key, to its exit",
        how: "whole processes",
        ours: "the key from the vault (`keyhold unit --vault`)",
        oursMs: vaultMs,
        peer: "the key from a credstore file (`LoadCredentialEncrypted=` a file)",
        peerMs: fileMs,
        goal: "≤ 2×",
        met: vaultMs / fileMs <= 2,
      },
    ];
    printEnvironment("PATH, HOME and LANG only (the harness runs every command inside with env -i)");
    printHeader(
      `vault secrets for units (${new Date().toISOString().slice(0, 10)}, ${process.version}, inside a systemd container, ${cpus().length} cores)`,
    );
    for (const x of results) printComparison(x);
    console.log(`\nLoad average after the table: ${loadNow()} (host; the container shares its CPUs).`);
  } finally {
    await suite.stop();
  }
}

await main();
