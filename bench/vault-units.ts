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

// Medians of commands run alternately (a, b, …, a, b, …) N times inside the container, after a warm-up.
const ALTERNATING_SOURCE = `import { spawnSync } from "node:child_process";
const [runs, ...lines] = process.argv.slice(2);
const once = (line) => {
  const argv = line.split(" ");
  const t = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
  if (r.status !== 0) { process.stderr.write(line + " exited " + r.status + ": " + r.stderr); process.exit(1); }
  return Number(process.hrtime.bigint() - t) / 1e6;
};
const times = lines.map(() => []);
for (let i = 0; i < Number(runs) + 2; i++) {
  lines.forEach((line, j) => { const ms = once(line); if (i >= 2) times[j].push(ms); });
}
const median = (xs) => { xs.sort((p, q) => p - q); const m = xs.length >> 1; return xs.length % 2 ? xs[m] : (xs[m - 1] + xs[m]) / 2; };
process.stdout.write(JSON.stringify(times.map(median)));
`;

/**
 * KEYHOLD_BENCH_BASELINE=DIR: another built checkout of keyhold with its own node_modules (say, a
 * `git worktree add DIR HEAD~1` set up with scripts/setup.sh), bound at BASELINE_INSIDE; its
 * answering path is measured in the same run, alternating with this one's, so that a change is
 * judged under the same load.
 */
const BASELINE_INSIDE = "/opt/keyhold-baseline";

/** What each phase of the answering instance's trace covers (src/app/vault-answer.ts). */
const PHASES: Record<string, string> = {
  node: "Node.js start-up, to the first line of bin/keyhold.js",
  "code-cache": "reading the one-file bundle and compiling it with the answering command's V8 code cache",
  bundle: "running the bundle's top level, or loading the split bundle",
  command: "loading the `vault` command group's modules",
  "decrypts-started":
    "the connection checked; `systemctl show` and the answer's `systemd-creds encrypt` spawned; the vault's configuration read, the audit key's and the master's decrypts spawned, sodium-native loaded",
  verified: "the rest of `systemctl show`; the peer checked against it and /proc",
  "audit-open": "the audit log open",
  "vault-open": "the vault opened (master decrypted, store read)",
  read: "the secret read through the plugin's grant (audited)",
  encrypted: "the value given to the waiting `systemd-creds encrypt`, the answer back",
  answered: "the answer written to the connection",
  done: "to the end of the command",
};

/** The legs of one start, from the journal's timestamps (systemd's messages, the trace's last line). */
const LEGS: Array<[string, string]> = [
  [
    "unit → answerer",
    "the unit's process forked → the answering instance forked (the request, a new instance unit)",
  ],
  ["answerer → Node", "the instance forked → its Node.js process started (the sandbox, exec)"],
  ["Node", "the instance's process, to its last trace line"],
  ["Node → unit done", "→ the unit's exit (PID 1 decrypts the answer, the unit runs `true`)"],
];

interface Breakdown {
  /** [phase, median ms, median ms since the process started] */
  phases: [string, number, number][];
  /** [leg, median ms] */
  legs: [string, number][];
}

/**
 * Where a start's time goes: `runs` starts of `unit` (by `start`) with KEYHOLD_TRACE_TIMING=1 in
 * the answering instances' environment, read back from the journal: each instance's phases (its
 * stderr), and the legs of each start (journal timestamps).
 */
async function startBreakdown(
  c: Container,
  files: readonly UnitFile[],
  unit: string,
  start: string,
  runs: number,
): Promise<Breakdown> {
  const template = files.find((f) => f.path.endsWith("@.service"));
  if (template === undefined) throw new Error("no answering template rendered");
  const dir = `/etc/systemd/system/${template.path}.d`;
  await c.check(["mkdir", "-p", dir]);
  c.writeFile(`${dir}/trace.conf`, "[Service]\nEnvironment=KEYHOLD_TRACE_TIMING=1\n");
  await c.check(["systemctl", "daemon-reload"]);
  try {
    const since = (await c.check(["date", "+%s.%N"])).stdout.trim();
    for (let i = 0; i < runs; i++) await c.check(start.split(" "));
    await c.check(["journalctl", "--sync"]);
    const log = (await c.check(["journalctl", "--no-pager", "-o", "short-unix", `--since=@${since}`])).stdout;
    const phases = new Map<string, { ms: number[]; at: number[] }>();
    const legs = LEGS.map(() => [] as number[]);
    const prefix = template.path.replace("@.service", "@");
    let times: { unit?: number; answerer?: number; node?: number; last?: number } | undefined;
    for (const line of log.split("\n")) {
      const t = Number(line.slice(0, line.indexOf(" "))) * 1000;
      if (line.includes(`Started ${unit}`)) times = { unit: t };
      else if (times !== undefined && line.includes(`Started ${prefix}`)) times.answerer = t;
      const m = /keyhold: timing: (\S+) ([0-9.]+) ms \(at ([0-9.]+) ms\)$/.exec(line);
      if (m !== null) {
        const entry = phases.get(m[1] as string) ?? { ms: [], at: [] };
        entry.ms.push(Number(m[2]));
        entry.at.push(Number(m[3]));
        phases.set(m[1] as string, entry);
        if (m[1] === "done" && times !== undefined) {
          times.last = t;
          times.node = t - Number(m[3]);
        }
      }
      if (line.includes(`${unit}: Deactivated successfully`) && times !== undefined) {
        const { unit: u, answerer: a, node: n, last: l } = times;
        if (u !== undefined && a !== undefined && n !== undefined && l !== undefined) {
          for (const [i, ms] of [a - u, n - a, l - n, t - l].entries()) legs[i]?.push(ms);
        }
        times = undefined;
      }
    }
    return {
      phases: [...phases].map(([name, { ms, at }]) => [name, median(ms), median(at)]),
      legs: LEGS.map(([name], i) => [name, median(legs[i] ?? [])]),
    };
  } finally {
    await c.check(["rm", "-rf", dir]);
    await c.check(["systemctl", "daemon-reload"]);
  }
}

const keyhold = (...args: string[]) => ["/usr/bin/node", KEYHOLD_INSIDE, ...args];

async function main(): Promise<void> {
  const baseline = process.env.KEYHOLD_BENCH_BASELINE;
  const suite = await bootForSuite({
    label: "bench-vunits",
    ...(baseline ? { binds: [{ host: baseline, container: BASELINE_INSIDE, readOnly: true }] } : {}),
  });
  const c = suite.container;
  if (c === undefined) {
    console.log(`\n### vault secrets for units\n\nnot measured: ${suite.skipReason ?? "no container"}`);
    return;
  }
  try {
    c.writeFile("/etc/ld.so.cache", readFileSync("/etc/ld.so.cache"));
    c.writeFile("/srv/bench/alternating.mjs", ALTERNATING_SOURCE);
    const value = `bench-${randomBytes(24).toString("hex")}`;
    await c.check(keyhold("init"));
    await c.check(keyhold("set", "bench_key"), { input: value });
    await c.check(keyhold("vault", "init"));
    await c.check(keyhold("vault", "put", "bench/bench_key"), { input: value });
    // Drop-ins for the units systemd-run creates (a drop-in applies to a transient unit too; it
    // cannot be verified without a unit file, so it is written directly): one with the vault
    // secret, one with the credstore file.
    const vaultUnit = (service: string, keyholdRoot: string) =>
      renderUnit({
        service,
        mode: "standard",
        dropIn: true,
        vault: [{ ns: "bench", name: "bench_key" }],
        keyholdRoot,
      });
    const vault = vaultUnit("kh-bench-vault", PROJECT_INSIDE);
    const base = baseline ? vaultUnit("kh-bench-base", BASELINE_INSIDE) : undefined;
    const file = renderUnit({
      service: "kh-bench-file",
      mode: "standard",
      dropIn: true,
      credentials: ["bench_key"],
    });
    await c.installUnits([...vault.files, ...(base?.files ?? []), ...file.files]);
    for (const plugin of ["kh-bench-vault", ...(base ? ["kh-bench-base"] : [])]) {
      c.writeFile(
        "/srv/bench/manifest.json",
        JSON.stringify({ plugin, needs: [{ ns: "bench", name: "bench_key", ops: ["read"] }] }),
      );
      await c.check(keyhold("vault", "policy", "load", "/srv/bench/manifest.json"));
      await c.check(keyhold("vault", "grant", plugin, "bench/bench_key", "--ops", "read"));
    }
    await c.check(["systemctl", "start", ...vault.vaultSockets, ...(base?.vaultSockets ?? [])]);

    // A credential that fails to load fails the unit (243/CREDENTIALS), so --wait exits non-zero.
    const start = (unit: string) =>
      `systemd-run --wait --quiet --unit=${unit} -p CollectMode=inactive-or-failed /bin/true`;
    const vaultStart = start("kh-bench-vault");
    const fileStart = start("kh-bench-file");
    const starts = [vaultStart, fileStart, ...(base ? [start("kh-bench-base")] : [])];
    const r = await c.check(["/usr/bin/node", "/srv/bench/alternating.mjs", "15", ...starts], {
      timeoutMs: 400_000,
    });
    const [vaultMs, fileMs, baseMs] = JSON.parse(r.stdout) as [number, number, number?];
    const peer = "the key from a credstore file (`LoadCredentialEncrypted=` a file)";
    const results: Comparison[] = [
      {
        what: "start a unit that receives one key, to its exit",
        how: "whole processes",
        ours: "the key from the vault (`keyhold unit --vault`)",
        oursMs: vaultMs,
        peer,
        peerMs: fileMs,
        goal: "≤ 2×",
        met: vaultMs / fileMs <= 2,
      },
      ...(baseMs === undefined
        ? []
        : [
            {
              what: "the same start, the vault's answer by the baseline checkout (KEYHOLD_BENCH_BASELINE)",
              how: "whole processes" as const,
              ours: "the key from the vault, answered by the baseline",
              oursMs: baseMs,
              peer,
              peerMs: fileMs,
              goal: "≤ 2×",
              met: baseMs / fileMs <= 2,
            },
          ]),
    ];
    const breakdown = await startBreakdown(c, vault.files, "kh-bench-vault.service", vaultStart, 15);
    printEnvironment("PATH, HOME and LANG only (the harness runs every command inside with env -i)");
    printHeader(
      `vault secrets for units (${new Date().toISOString().slice(0, 10)}, ${process.version}, inside a systemd container, ${cpus().length} cores)`,
    );
    for (const x of results) printComparison(x);
    console.log(
      "\n#### Where a start with a vault secret spends its time (medians of 15, KEYHOLD_TRACE_TIMING=1)\n",
    );
    console.log("| leg | ms | covers |");
    console.log("| --- | --- | --- |");
    for (const [name, ms] of breakdown.legs)
      console.log(`| ${name} | ${ms.toFixed(1)} | ${LEGS.find(([n]) => n === name)?.[1] ?? ""} |`);
    console.log("\nThe answering instance's phases:\n");
    console.log("| phase | ms | ends at (ms since its process started) | covers |");
    console.log("| --- | --- | --- | --- |");
    for (const [name, ms, at] of breakdown.phases)
      console.log(`| ${name} | ${ms.toFixed(1)} | ${at.toFixed(1)} | ${PHASES[name] ?? ""} |`);
    console.log(`\nLoad average after the table: ${loadNow()} (host; the container shares its CPUs).`);
  } finally {
    await suite.stop();
  }
}

await main();
