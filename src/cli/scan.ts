import { existsSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";
import {
  DEFAULT_MAX_SIZE,
  installHook,
  type KnownValueSet,
  loadPolicy,
  openFingerprintIndex,
  POLICY_FILE,
  renderJson,
  renderReplacements,
  renderSarif,
  renderText,
  SCAN_INDEX_FILE,
  type ScanOptions,
  type ScanResult,
  scanHistory,
  scanStaged,
  scanTree,
  terminalProgress,
  workTreeTop,
  writeBaseline,
} from "../scan/index.js";
import { isSecretError, SecretError } from "../secret/index.js";
import { type CliIo, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, usageError, writeLine } from "./io.js";

const VERSION = "0.1.0";
const DEFAULT_STATE = "/var/lib/keyhold";

const SCAN_SYNOPSIS =
  "scan [PATH] [--staged | --history] [--all-files] [--json | --sarif] [--baseline FILE] [--update-baseline] [--no-known-values] [--state DIR] [--max-size BYTES] [--replacements]";

const SCAN_HELP = `Finds credentials in a working tree (what git would commit; --all-files adds ignored
files), in the staged changes (--staged, for pre-commit) or in every blob of every ref
(--history). Besides 40+ well-known key formats and high-entropy assignments, it finds the exact
values keyhold stores (credstore and vault), raw or base64/hex/URL-encoded, through keyed
fingerprints: nothing is decrypted but the scan key.

Output: text (default), --json, or --sarif (SARIF 2.1.0). Matches are always masked.
Exit: 0 clean, 3 findings, 2 usage or fatal error.

Noise control: ${POLICY_FILE} at the repository root (allow.paths, allow.rules, accepted
findings; --update-baseline accepts all current findings), a 'keyhold:allow' comment on the
line, and lock, minified and binary files are skipped.

  --replacements   print git filter-repo --replace-text lines for the findings (to a pipe only):
                   git filter-repo --replace-text <(keyhold scan --history --replacements)`;

function fail(io: CliIo, err: unknown): number {
  if (isSecretError(err)) {
    writeLine(io.stderr, `keyhold: ${err.message} [${err.code}]`);
    if (err.hint) writeLine(io.stderr, `keyhold: hint: ${err.hint}`);
  } else {
    writeLine(io.stderr, `keyhold: ${err instanceof Error ? err.message : "unexpected failure"} [INTERNAL]`);
  }
  // A scan that could not run must never look clean (0) or be mistaken for findings (3).
  return EXIT_USAGE;
}

function parse<R>(run: () => R, synopsis: string): R {
  try {
    return run();
  } catch (err) {
    const reason =
      err instanceof Error ? (err.message.split("\n")[0] ?? "").replace(/\.$/, "") : "bad arguments";
    throw usageError(
      reason.replace(/^./, (c) => c.toLowerCase()),
      `usage: keyhold ${synopsis}`,
    );
  }
}

/**
 * Loads the stored values to look for. The index lives in the state directory and the scan
 * key is a systemd credential: without root (or the index), known-value detection is off and
 * the scan says so on stderr rather than failing.
 */
async function knownValues(
  io: CliIo,
  state: string,
  quiet: boolean,
): Promise<{ known: KnownValueSet | undefined; note?: string }> {
  if (!existsSync(join(state, SCAN_INDEX_FILE))) return { known: undefined };
  try {
    const index = await openFingerprintIndex(state, { env: io.env });
    return { known: await index.loadKnownValues() };
  } catch (err) {
    const why = isSecretError(err) ? `${err.message} [${err.code}]` : (err as Error).message;
    if (!quiet) writeLine(io.stderr, `keyhold: note: known-value detection is off: ${why}`);
    return { known: undefined, note: why };
  }
}

export async function scanCommand(argv: string[], io: CliIo): Promise<number> {
  try {
    return await scan(argv, io);
  } catch (err) {
    return fail(io, err);
  }
}

async function scan(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    () =>
      parseArgs({
        args: argv,
        allowPositionals: true,
        options: {
          staged: { type: "boolean" },
          history: { type: "boolean" },
          "all-files": { type: "boolean" },
          json: { type: "boolean" },
          sarif: { type: "boolean" },
          baseline: { type: "string" },
          "update-baseline": { type: "boolean" },
          "no-known-values": { type: "boolean" },
          state: { type: "string" },
          "max-size": { type: "string" },
          replacements: { type: "boolean" },
          "no-progress": { type: "boolean" },
          help: { type: "boolean", short: "h" },
        },
      }),
    SCAN_SYNOPSIS,
  );
  if (values.help) {
    writeLine(io.stdout, `usage: keyhold ${SCAN_SYNOPSIS}\n\n${SCAN_HELP}`);
    return EXIT_OK;
  }
  if (positionals.length > 1)
    throw usageError(`unexpected argument: ${positionals[1]}`, `usage: keyhold ${SCAN_SYNOPSIS}`);
  if (values.staged && values.history) throw usageError("--staged and --history cannot be combined");
  if (values.json && values.sarif) throw usageError("--json and --sarif cannot be combined");
  if (values["all-files"] && (values.staged || values.history))
    throw usageError("--all-files applies to a tree scan only");
  let maxSize = DEFAULT_MAX_SIZE;
  if (values["max-size"] !== undefined) {
    if (!/^[1-9][0-9]{0,12}$/.test(values["max-size"]))
      throw usageError("--max-size must be a positive number of bytes");
    maxSize = Number(values["max-size"]);
  }
  if (values.replacements && (io.stdout as { isTTY?: boolean }).isTTY) {
    throw new SecretError(
      "TERMINAL_REFUSED",
      "--replacements prints the leaked values; refusing to write them to a terminal",
      {
        hint: "git filter-repo --replace-text <(keyhold scan --history --replacements)",
      },
    );
  }
  const dir = positionals[0] ?? ".";
  if (!existsSync(dir)) throw new SecretError("FILE_NOT_FOUND", `no such file or directory: ${dir}`);
  if ((values.staged || values.history) && statSync(dir).isFile()) {
    throw usageError("--staged and --history take a directory in a repository, not a file");
  }

  const state = values.state ?? io.env.KEYHOLD_STATE ?? DEFAULT_STATE;
  const { known } = values["no-known-values"] ? { known: undefined } : await knownValues(io, state, false);

  const mode = values.history ? "history" : values.staged ? "staged" : "tree";
  const progress = values["no-progress"]
    ? undefined
    : terminalProgress(
        io.stderr as CliIo["stderr"] & { isTTY?: boolean },
        io.env,
        mode === "tree" ? "files" : "blobs",
      );

  // The policy file sits at the repository top (or in the scanned directory outside git).
  const policyPath = values.baseline ?? join(await policyRoot(dir, io.env), POLICY_FILE);
  const policy = loadPolicy(policyPath, values.baseline !== undefined);

  const options: ScanOptions = {
    maxSize,
    policy,
    env: io.env,
    ...(known ? { known } : {}),
    ...(progress ? { progress } : {}),
  };
  let result: ScanResult;
  try {
    result =
      mode === "history"
        ? await scanHistory(dir, options)
        : mode === "staged"
          ? await scanStaged(dir, options)
          : await scanTree(dir, { allFiles: values["all-files"] === true }, options);
  } finally {
    known?.dispose();
  }
  warnAboutGaps(io, result);

  if (values["update-baseline"]) {
    // Entries the baseline already accepted were left out of `findings`: keep them too.
    const count = writeBaseline(policyPath, policy, [...policy.accepted, ...result.findings]);
    writeLine(io.stderr, `keyhold: ${policyPath} now accepts ${count} finding${count === 1 ? "" : "s"}`);
    return EXIT_OK;
  }

  if (values.replacements) io.stdout.write(renderReplacements(result));
  else if (values.json)
    io.stdout.write(renderJson(result, { enabled: known !== undefined, values: known?.size ?? 0 }));
  else if (values.sarif) io.stdout.write(renderSarif(result, VERSION));
  else io.stdout.write(renderText(result));
  return result.findings.length > 0 ? EXIT_FINDINGS : EXIT_OK;
}

/**
 * Says on stderr what the scan could not see, so a clean result is not taken for more than it
 * is; the summary line and --json's stats carry the same counts. The exit status is unchanged.
 */
function warnAboutGaps(io: CliIo, result: ScanResult): void {
  const unit = result.mode === "tree" ? "file" : "blob";
  const { unreadable, "outside-root": outside } = result.stats.skipped;
  if (unreadable)
    writeLine(
      io.stderr,
      `keyhold: warning: ${unreadable} ${unit}${unreadable === 1 ? "" : "s"} could not be read and ${unreadable === 1 ? "was" : "were"} not scanned`,
    );
  if (outside)
    writeLine(
      io.stderr,
      `keyhold: warning: ${outside} file${outside === 1 ? "" : "s"} reached through a symlinked directory outside ${result.root} ${outside === 1 ? "was" : "were"} not read`,
    );
  for (const warning of result.stats.warnings) writeLine(io.stderr, `keyhold: warning: ${warning}`);
}

/** Where the policy file lives: the repository top, or the scanned directory outside git. */
async function policyRoot(dir: string, env: NodeJS.ProcessEnv): Promise<string> {
  const base = statSync(dir, { throwIfNoEntry: false })?.isFile() ? dirname(dir) : dir;
  const top = await workTreeTop({ cwd: base, env }).catch(() => undefined);
  return top ?? base;
}

const HOOK_SYNOPSIS = "hook install [PATH] [--force]";

/** The command line that runs this keyhold: node plus bin/keyhold.js, or `keyhold` from PATH. */
function selfInvocation(): string[] {
  const script = process.argv[1];
  if (script && /^keyhold(?:\.js)?$/.test(basename(script))) return [process.execPath, script];
  return ["keyhold"];
}

export async function hookCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    () =>
      parseArgs({
        args: argv,
        allowPositionals: true,
        options: { force: { type: "boolean" }, help: { type: "boolean", short: "h" } },
      }),
    HOOK_SYNOPSIS,
  );
  if (values.help) {
    writeLine(
      io.stdout,
      `usage: keyhold ${HOOK_SYNOPSIS}\n\nInstalls a git pre-commit hook that runs 'keyhold scan --staged' and blocks the commit on\nfindings. For the pre-commit framework, use the 'keyhold-scan' hook of .pre-commit-hooks.yaml.`,
    );
    return EXIT_OK;
  }
  const [action, dir, extra] = positionals;
  if (action !== "install")
    throw usageError(
      action === undefined ? "missing action" : `unknown action: ${action}`,
      `usage: keyhold ${HOOK_SYNOPSIS}`,
    );
  if (extra !== undefined)
    throw usageError(`unexpected argument: ${extra}`, `usage: keyhold ${HOOK_SYNOPSIS}`);
  const path = await installHook(dir ?? ".", {
    keyhold: selfInvocation(),
    force: values.force === true,
    env: io.env,
  });
  writeLine(io.stdout, `keyhold: installed ${path}: commits are scanned with 'keyhold scan --staged'`);
  return EXIT_OK;
}
