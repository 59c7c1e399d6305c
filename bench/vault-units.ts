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
import type { UnitFile } from "../src/systemd/index.js";
import { renderUnit } from "../src/units/index.js";
import { bootForSuite, type Container, KEYHOLD_INSIDE, PROJECT_INSIDE } from "../test/harness/index.js";
import {
  type Comparison,
  loadNow,
  median,
  printComparison,
  printEnvironment,
  printHeader,
} from "./measure.js";

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

/** What each phase of the answering instance's trace covers (src/app/vault-answer.ts). */
const PHASES: Record<string, string> = {
  node: "Node.js start-up, to the first line of bin/keyhold.js",
  bundle: "loading the CLI bundle",
  command: "loading the serve-credential command's modules",
  "decrypts-started": "the vault's configuration read; the audit key's and the master's decrypts spawned",
  verified: "the peer checked (`systemctl show`, /proc)",
  "audit-open": "the audit log open",
  "vault-open": "the vault opened (master decrypted, store read)",
  read: "the secret read through the plugin's grant (audited)",
  encrypted: "`systemd-creds encrypt` of the answer",
  answered: "the answer written to the connection",
  done: "to the end of the command",
};

/**
 * Where the answering instance's time goes: the trace of `runs` starts of `start`, read from the
 * journal (each instance's stderr), as [phase, median ms, median time since its process started].
 */
async function answerBreakdown(
  c: Container,
  files: readonly UnitFile[],
  start: string,
  runs: number,
): Promise<[string, number, number][]> {
  const template = files.find((f) => f.path.endsWith("@.service"));
  if (template === undefined) throw new Error("no answering template rendered");
  const dropIn = `/etc/systemd/system/${template.path}.d/trace.conf`;
  await c.check(["mkdir", "-p", dropIn.slice(0, dropIn.lastIndexOf("/"))]);
  c.writeFile(dropIn, "[Service]\nEnvironment=KEYHOLD_TRACE_TIMING=1\n");
  await c.check(["systemctl", "daemon-reload"]);
  try {
    await c.check(["journalctl", "--rotate", "--vacuum-files=1"]).catch(() => undefined);
    const since = (await c.check(["date", "+%s.%N"])).stdout.trim();
    for (let i = 0; i < runs; i++) await c.check(start.split(" "));
    await c.check(["journalctl", "--sync"]);
    const unit = template.path.replace("@.service", "@*.service");
    const log = (await c.check(["journalctl", "--no-pager", "-o", "cat", `--since=@${since}`, "-u", unit]))
      .stdout;
    const phases = new Map<string, { ms: number[]; at: number[] }>();
    for (const m of log.matchAll(/^keyhold: timing: (\S+) ([0-9.]+) ms \(at ([0-9.]+) ms\)/gm)) {
      const entry = phases.get(m[1] as string) ?? { ms: [], at: [] };
      entry.ms.push(Number(m[2]));
      entry.at.push(Number(m[3]));
      phases.set(m[1] as string, entry);
    }
    return [...phases].map(([name, { ms, at }]) => [name, median(ms), median(at)]);
  } finally {
    await c.check(["rm", "-rf", dropIn.slice(0, dropIn.lastIndexOf("/"))]);
    await c.check(["systemctl", "daemon-reload"]);
  }
}

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
    const breakdown = await answerBreakdown(c, vault.files, vaultStart, 15);
    printEnvironment("PATH, HOME and LANG only (the harness runs every command inside with env -i)");
    printHeader(
      `vault secrets for units (${new Date().toISOString().slice(0, 10)}, ${process.version}, inside a systemd container, ${cpus().length} cores)`,
    );
    for (const x of results) printComparison(x);
    console.log(
      "\n#### Where the answering instance spends its time (KEYHOLD_TRACE_TIMING=1, medians of 15)\n",
    );
    console.log("| phase | ms | ends at (ms since its process started) | covers |");
    console.log("| --- | --- | --- | --- |");
    for (const [name, ms, at] of breakdown)
      console.log(`| ${name} | ${ms.toFixed(1)} | ${at.toFixed(1)} | ${PHASES[name] ?? ""} |`);
    console.log(`\nLoad average after the table: ${loadNow()} (host; the container shares its CPUs).`);
  } finally {
    await suite.stop();
  }
}

await main();
