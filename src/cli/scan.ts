import { existsSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { stateDirectory, VERSION } from "../defaults.js";
import { readProtectedFile } from "../load/index.js";
import { printable } from "../secret/printable.js";
import {
  addRefs,
  DEFAULT_MAX_SIZE,
  EMPTY_POLICY,
  installHook,
  installPreReceiveHook,
  loadPolicy,
  parseRange,
  parseRefUpdates,
  parseSince,
  POLICY_FILE,
  renderGitlab,
  renderJson,
  renderReplacements,
  renderSarif,
  renderText,
  type ScanOptions,
  type ScanResult,
  scanCommitMessage,
  scanInput,
  scanHistory,
  scanPush,
  scanRange,
  scanSince,
  scanStaged,
  scanTree,
  terminalProgress,
  withIgnoreFiles,
  writeBaseline,
} from "../scan/index.js";
import { KeyholdError, SecretError } from "../secret/index.js";
import { defineCommand, type OptionTable, type RunContext } from "./command.js";
import { type CliIo, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, usageError, writeLine } from "./io.js";
import { credentialValue, knownValues, policyRoot, pushPolicy } from "../app/scan.js";

const SCAN_SYNOPSIS =
  "scan [PATH | -] [--staged | --history | --range BASE..HEAD | --since DATE | --pre-receive | --commit-message FILE] [--all-files] [--json | --sarif | --gitlab] [--baseline FILE] [--update-baseline] [--no-known-values] [--state DIR] [--max-size BYTES] [--replacements]";

const SCAN_HELP = `Finds credentials in a working tree (what git would commit; --all-files adds ignored
files), in the staged changes (--staged, for pre-commit), in every blob and every commit and
tag message of every ref (--history; findings grouped into one leak per value, with every
place it was), in what a range of commits added (--range BASE..HEAD, or --since DATE: for
merge-request pipelines and pre-push hooks), in what a push adds (--pre-receive, git's
server-side hook), in a commit message (--commit-message FILE, for the
commit-msg hook), or in standard input (PATH '-': \`git diff | keyhold scan -\`, lines counted
in the input, up to --max-size bytes). Besides 40+ well-known key formats and high-entropy assignments, it finds the exact
values keyhold stores (credstore and vault), raw or base64/hex/URL-encoded, through keyed
fingerprints: nothing is decrypted but the scan key.

Output: text (default), --json, --sarif (SARIF 2.1.0) or --gitlab (GitLab's secret-detection
report). Matches are always masked.
Exit: 0 clean, 3 findings, 2 usage or fatal error or a file that could not be read.

Noise control: ${POLICY_FILE} at the repository root (allow.paths, allow.rules, accepted
findings; --update-baseline accepts all current findings), a 'keyhold:allow' comment on the
line. Lock files and binary files are skipped; minified bundles are scanned like any text.

  --value-of NAME  incident view: every commit, path and ref where credential NAME's exact value
                   is (raw or encoded), without printing it: keyhold scan --history --value-of NAME
  --replacements   print git filter-repo --replace-text lines for the findings (to a pipe only):
                   git filter-repo --replace-text <(keyhold scan --history --replacements)`;

const SCAN_OPTIONS = {
  staged: { type: "boolean", description: "scan the staged changes (for a pre-commit hook)" },
  history: {
    type: "boolean",
    description: "scan every blob and every commit and tag message of every ref",
  },
  range: {
    type: "string",
    arg: "BASE..HEAD",
    description: "scan only what the commits from BASE to HEAD added (blobs and messages)",
  },
  since: {
    type: "string",
    arg: "DATE",
    description: "scan only what commits since DATE (ISO 8601) added, on every ref",
  },
  "pre-receive": {
    type: "boolean",
    description: "git's pre-receive hook: scan what the push on stdin adds (a bare repository)",
  },
  "value-of": {
    type: "string",
    arg: "NAME",
    description:
      "with --history or --range: where credential NAME's exact value is (root; the value is never printed)",
  },
  "commit-message": {
    type: "string",
    arg: "FILE",
    complete: "file",
    description: "scan a commit message (for the commit-msg hook)",
  },
  "all-files": { type: "boolean", description: "tree scan: also the files git ignores" },
  json: { type: "boolean", description: "print JSON" },
  sarif: { type: "boolean", description: "print SARIF 2.1.0" },
  gitlab: {
    type: "boolean",
    description: "print GitLab's secret-detection report (gl-secret-detection-report.json)",
  },
  baseline: {
    type: "string",
    arg: "FILE",
    complete: "file",
    description: `the policy and accepted findings (default ${POLICY_FILE} at the repository root)`,
  },
  "update-baseline": { type: "boolean", description: "accept every current finding in the baseline" },
  "no-known-values": { type: "boolean", description: "do not look for the values keyhold stores" },
  state: {
    type: "string",
    arg: "DIR",
    complete: "directory",
    description: "keyhold's state directory, for known values (default $KEYHOLD_STATE or /var/lib/keyhold)",
  },
  "max-size": { type: "string", arg: "BYTES", description: "skip files larger than BYTES" },
  replacements: {
    type: "boolean",
    description: "print git filter-repo --replace-text lines for the findings (to a pipe only)",
  },
  "no-progress": { type: "boolean", description: "no progress line on a terminal" },
} as const satisfies OptionTable;

export const scan = defineCommand({
  name: "scan",
  synopsis: SCAN_SYNOPSIS,
  help: SCAN_HELP,
  store: false,
  options: SCAN_OPTIONS,
  completePositionals: "directory",
  // A scan that could not run must never look clean (0) or be mistaken for findings (3).
  exitOnFailure: EXIT_USAGE,
  run: scanCommand,
});

async function scanCommand({ values, positionals, io }: RunContext<typeof SCAN_OPTIONS>): Promise<number> {
  if (positionals.length > 1)
    throw usageError(`unexpected argument: ${positionals[1]}`, `usage: keyhold ${SCAN_SYNOPSIS}`);
  const modes = [
    values.staged,
    values.history,
    values["commit-message"] !== undefined,
    values.range !== undefined,
    values.since !== undefined,
    values["pre-receive"],
  ].filter(Boolean);
  if (modes.length > 1)
    throw usageError(
      "--staged, --history, --range, --since, --pre-receive and --commit-message cannot be combined",
    );
  if (values["commit-message"] !== undefined && positionals.length > 0)
    throw usageError("--commit-message takes the message file, not a PATH");
  if (values["pre-receive"] && positionals.length > 0)
    throw usageError("--pre-receive scans the repository git runs the hook in, not a PATH");
  if ([values.json, values.sarif, values.gitlab].filter(Boolean).length > 1)
    throw usageError("--json, --sarif and --gitlab cannot be combined");
  // Checked before anything reaches git: a range or date is handed to it.
  const range = values.range === undefined ? undefined : parseRange(values.range);
  const since = values.since === undefined ? undefined : parseSince(values.since);
  if (values["all-files"] && modes.length > 0) throw usageError("--all-files applies to a tree scan only");
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
  const fromStdin = positionals[0] === "-";
  if (fromStdin && modes.length > 0)
    throw usageError(
      "- (standard input) cannot be combined with --staged, --history, --range, --since, --pre-receive or --commit-message",
    );
  if (fromStdin && values["all-files"]) throw usageError("--all-files applies to a tree scan only");
  if (fromStdin && values["update-baseline"])
    throw usageError("--update-baseline needs a tree or history scan, not standard input");
  const dir = fromStdin ? "." : (positionals[0] ?? ".");
  if (!existsSync(dir)) throw new SecretError("FILE_NOT_FOUND", `no such file or directory: ${dir}`);
  if ((values.staged || values.history || range || since) && statSync(dir).isFile()) {
    throw usageError("--staged, --history, --range and --since take a directory in a repository, not a file");
  }
  if (values["pre-receive"] && values["update-baseline"])
    throw usageError("--update-baseline needs a tree or history scan, not a push");

  const valueOfName = values["value-of"];
  if (valueOfName !== undefined && !(values.history || range || since))
    throw usageError("--value-of needs --history, --range or --since");
  if (valueOfName !== undefined && (values["update-baseline"] || values.replacements))
    throw usageError("--value-of cannot be combined with --update-baseline or --replacements");
  const state = stateDirectory(io.env, values.state);
  const { known, note } =
    valueOfName !== undefined
      ? { known: await credentialValue(io.env, valueOfName, values.state), note: undefined }
      : values["no-known-values"]
        ? { known: undefined, note: undefined }
        : await knownValues(state, io.env);
  if (note !== undefined) writeLine(io.stderr, `keyhold: note: known-value detection is off: ${note}`);

  const messageFile = values["commit-message"];
  const mode = fromStdin
    ? "stdin"
    : values["pre-receive"]
      ? "push"
      : range || since
        ? "range"
        : values.history
          ? "history"
          : values.staged
            ? "staged"
            : messageFile
              ? "message"
              : "tree";
  const progress = values["no-progress"]
    ? undefined
    : terminalProgress(
        io.stderr as CliIo["stderr"] & { isTTY?: boolean },
        io.env,
        mode === "tree" ? "files" : mode === "message" || mode === "stdin" ? "messages" : "blobs",
      );

  // The policy file sits at the repository top (or in the scanned directory outside git); a
  // push is judged by the one the server's HEAD has (see pushPolicy).
  const root = mode === "push" ? resolve(dir) : await policyRoot(dir, io.env);
  const policyPath = values.baseline ?? join(root, POLICY_FILE);
  // The pre-receive hook judges a push by the policy of the server's HEAD before it (so a push cannot
  // accept its own key); elsewhere a .gitleaksignore and .secretlintignore at the top count unless
  // --baseline says the repository's own policy is not the one to use.
  const policy =
    mode === "push" && values.baseline === undefined
      ? await pushPolicy(root, io.env)
      : values.baseline === undefined
        ? withIgnoreFiles(loadPolicy(policyPath, false), root)
        : loadPolicy(policyPath, true);

  const options: ScanOptions = {
    maxSize,
    // The incident view looks for the one value everywhere: no pattern rules, no allowlist or baseline.
    ...(valueOfName !== undefined ? { rules: [], policy: EMPTY_POLICY } : { policy }),
    env: io.env,
    ...(known ? { known } : {}),
    ...(progress ? { progress } : {}),
  };
  let result: ScanResult;
  try {
    result = fromStdin
      ? scanInput(await readInput(io, maxSize), root, options)
      : messageFile !== undefined
        ? scanCommitMessage(readMessage(messageFile, maxSize), root, options)
        : mode === "push"
          ? await scanPush(root, parseRefUpdates(await readInput(io, maxSize)), options)
          : range
            ? await scanRange(dir, range, options)
            : since
              ? await scanSince(dir, since, options)
              : mode === "history"
                ? await scanHistory(dir, options)
                : mode === "staged"
                  ? await scanStaged(dir, options)
                  : await scanTree(dir, { allFiles: values["all-files"] === true }, options);
  } finally {
    known?.dispose();
  }
  if (valueOfName !== undefined && result.leaks)
    await addRefs(result.leaks, { cwd: result.root, env: io.env });
  warnAboutGaps(io, result);
  const failed = unreadableFiles(io, result);

  if (values["update-baseline"]) {
    // A baseline from a scan that could not read everything would accept less than it should say.
    if (failed) return EXIT_USAGE;
    // Entries the baseline already accepted were left out of `findings`: keep them too.
    const count = writeBaseline(policyPath, policy, [...policy.accepted, ...result.findings]);
    writeLine(io.stderr, `keyhold: ${policyPath} now accepts ${count} finding${count === 1 ? "" : "s"}`);
    return EXIT_OK;
  }

  if (values.replacements) io.stdout.write(renderReplacements(result));
  else if (values.json)
    io.stdout.write(renderJson(result, { enabled: known !== undefined, values: known?.size ?? 0 }));
  else if (values.sarif) io.stdout.write(renderSarif(result, VERSION));
  else if (values.gitlab) io.stdout.write(renderGitlab(result, VERSION));
  else io.stdout.write(renderText(result));
  if (failed) return EXIT_USAGE;
  return result.findings.length > 0 ? EXIT_FINDINGS : EXIT_OK;
}

/**
 * Standard input, whole, up to --max-size bytes: more is refused before anything is scanned (a
 * scan of the first part would pass the rest as clean).
 */
async function readInput(io: CliIo, maxSize: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of io.stdin as AsyncIterable<Buffer | string>) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    size += bytes.length;
    if (size > maxSize) {
      (io.stdin as { destroy?: () => void }).destroy?.();
      throw new KeyholdError("TOO_LARGE", `standard input is over ${maxSize} bytes`, {
        hint: "pass a larger --max-size, or scan the file or repository itself",
      });
    }
    chunks.push(bytes);
  }
  return Buffer.concat(chunks);
}

/** The commit-msg hook's message file: a regular file, not a link, of at most --max-size bytes. */
function readMessage(path: string, maxSize: number): Buffer {
  return readProtectedFile(path, { permissions: "any", owners: "any", maxBytes: maxSize });
}

/**
 * Says on stderr which files could not be read (the report above still lists what was found):
 * a scan that missed a file must not pass as clean, so the CLI exits 2 after it.
 */
function unreadableFiles(io: CliIo, result: ScanResult): boolean {
  const count = result.stats.skipped.unreadable ?? 0;
  if (count === 0) return false;
  const unit = result.mode === "tree" ? "file" : "blob";
  for (const line of result.stats.failures) writeLine(io.stderr, `keyhold: ${printable(line)}`);
  if (count > result.stats.failures.length)
    writeLine(io.stderr, `keyhold: … and ${count - result.stats.failures.length} more`);
  writeLine(
    io.stderr,
    `keyhold: ${count} ${unit}${count === 1 ? "" : "s"} could not be read and ${count === 1 ? "was" : "were"} not scanned [FILE_UNREADABLE]`,
  );
  return true;
}

/**
 * Says on stderr what the scan could not see, so a clean result is not taken for more than it
 * is; the summary line and --json's stats carry the same counts. The exit status is unchanged.
 */
function warnAboutGaps(io: CliIo, result: ScanResult): void {
  const { "outside-root": outside } = result.stats.skipped;
  if (outside)
    writeLine(
      io.stderr,
      `keyhold: warning: ${outside} file${outside === 1 ? "" : "s"} reached through a symlinked directory outside ${result.root} ${outside === 1 ? "was" : "were"} not read`,
    );
  for (const warning of result.stats.warnings) writeLine(io.stderr, `keyhold: warning: ${warning}`);
}

const HOOK_SYNOPSIS = "hook install [PATH] [--pre-receive] [--force]";

/** The command line that runs this keyhold: node plus bin/keyhold.js, or `keyhold` from PATH. */
function selfInvocation(): string[] {
  const script = process.argv[1];
  if (script && /^keyhold(?:\.js)?$/.test(basename(script))) return [process.execPath, script];
  return ["keyhold"];
}

const HOOK_OPTIONS = {
  force: { type: "boolean", description: "replace hooks keyhold did not write" },
  "pre-receive": {
    type: "boolean",
    description: "install the server-side pre-receive hook into the bare repository PATH",
  },
} as const satisfies OptionTable;

export const hook = defineCommand({
  name: "hook",
  synopsis: HOOK_SYNOPSIS,
  help: "Installs git's pre-commit hook ('keyhold scan --staged') and commit-msg hook ('keyhold scan\n--commit-message'): a commit whose staged changes or message hold a credential is blocked.\nFor the pre-commit framework, use the 'keyhold-scan' hook of .pre-commit-hooks.yaml.\nWith --pre-receive, installs the pre-receive hook into a bare repository on a git server\n('keyhold scan --pre-receive'): a push that adds a credential is refused.",
  store: false,
  options: HOOK_OPTIONS,
  completePositionals: ["install"],
  run: hookCommand,
});

async function hookCommand({ values, positionals, io }: RunContext<typeof HOOK_OPTIONS>): Promise<number> {
  const [action, dir, extra] = positionals;
  if (action !== "install")
    throw usageError(
      action === undefined ? "missing action" : `unknown action: ${action}`,
      `usage: keyhold ${HOOK_SYNOPSIS}`,
    );
  if (extra !== undefined)
    throw usageError(`unexpected argument: ${extra}`, `usage: keyhold ${HOOK_SYNOPSIS}`);
  if (values["pre-receive"]) {
    const path = await installPreReceiveHook(dir ?? ".", {
      keyhold: selfInvocation(),
      force: values.force === true,
      env: io.env,
    });
    writeLine(io.stdout, `keyhold: installed ${path}: pushes are scanned with 'keyhold scan --pre-receive'`);
    return EXIT_OK;
  }
  const [preCommit, commitMsg] = await installHook(dir ?? ".", {
    keyhold: selfInvocation(),
    force: values.force === true,
    env: io.env,
  });
  writeLine(
    io.stdout,
    `keyhold: installed ${preCommit}: staged changes are scanned with 'keyhold scan --staged'`,
  );
  writeLine(
    io.stdout,
    `keyhold: installed ${commitMsg}: commit messages are scanned with 'keyhold scan --commit-message'`,
  );
  return EXIT_OK;
}
