import { printable } from "../secret/printable.js";
import { INCOMPLETE_RULE, KNOWN_VALUE_RULE } from "./detect.js";
import { exposeFindingMatch, type Finding } from "./finding.js";
import { type Leak, type LeakPlace, leakGuid } from "./history-groups.js";
import { findingPathBytes, pathUri } from "./path.js";
import type { ScanResult } from "./scanner.js";
import type { Rule } from "./rule.js";
import { PATTERN_RULES } from "./rules/index.js";

/*
 * Every report shows a finding's masked match only. The matched text is reachable solely through
 * exposeFindingMatch(), which `renderReplacements` uses for `--replacements` (a pipe into
 * git filter-repo, refused on a terminal by the CLI).
 */

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

/** Where a finding is: `path:line:column`, or `commit <id> message:line:column` (likewise a tag). */
function where(f: Finding): string {
  if (f.message !== undefined) {
    const id = f.message === "tag" ? f.tag : f.commit;
    return `${f.message}${id ? ` ${id}` : ""} message:${f.line}:${f.column}`;
  }
  // A line never begins with text from the repository: "::…" would be a GitHub Actions command.
  // `path` already writes bytes that are not UTF-8 as \xNN; `printable` escapes control characters.
  const path = f.path.startsWith(":") ? `./${f.path}` : f.path;
  return `${path}:${f.line}:${f.column}`;
}

function summary(result: ScanResult): string {
  const unit = result.mode === "tree" ? "files" : "blobs";
  const withMessages = result.mode === "history" || result.mode === "range" || result.mode === "push";
  const { scanned, messages, bytes, accepted, seconds } = result.stats;
  const skipped = Object.entries(result.stats.skipped)
    .map(([why, n]) => `${n} ${why}`)
    .join(", ");
  const n = result.findings.length;
  const leaks = result.leaks ?? [];
  const places = leaks.reduce((sum, l) => sum + l.places.length, 0);
  const head = n === 0 ? "no findings" : `${n} finding${n === 1 ? "" : "s"}`;
  const extras = [
    leaks.length > 0
      ? `${leaks.length} leak${leaks.length === 1 ? "" : "s"} in ${places} place${places === 1 ? "" : "s"}`
      : "",
    accepted > 0 ? `${accepted} accepted by the baseline` : "",
    skipped ? `skipped: ${skipped}` : "",
  ].filter((s) => s !== "");
  const what =
    result.mode === "message"
      ? `${messages} message${messages === 1 ? "" : "s"}`
      : result.mode === "stdin"
        ? "standard input"
      : `${scanned} ${unit}${withMessages ? ` and ${messages} messages` : ""}`;
  return `keyhold scan (${result.mode}): ${head} in ${what} (${mib(bytes)}, ${seconds.toFixed(2)} s)${extras.length ? `; ${extras.join("; ")}` : ""}`;
}

function commitText(c: { commit: string; author: string; date: string }): string {
  return `commit ${c.commit.slice(0, 12)} (${c.author}, ${c.date})`;
}

/** One line per place of a leak: where it came in, whether HEAD still has it, how many versions. */
function placeLine(p: LeakPlace, findings: readonly Finding[]): string {
  const first = findings[p.occurrences[0] ?? -1];
  const at =
    p.message !== undefined
      ? `${p.message} message${p.message === "tag" && first?.tag ? ` ${first.tag.slice(0, 12)}` : ""}`
      : first !== undefined && first.path === p.path
        ? where(first)
        : p.path.startsWith(":")
          ? `./${p.path}`
          : p.path;
  const parts = [at];
  if (p.introduced) parts.push(`${p.message === undefined ? "added in" : "in"} ${commitText(p.introduced)}`);
  if (p.message === undefined) {
    if (p.inHead) parts.push("still in HEAD");
    else if (p.removed)
      parts.push(
        `removed in ${commitText(p.removed)}${p.lastPresent ? `, last present in ${p.lastPresent.slice(0, 12)}` : ""}`,
      );
    else parts.push("not in HEAD");
  }
  parts.push(`${p.versions} version${p.versions === 1 ? "" : "s"}`);
  if (p.refs) parts.push(p.refs.length === 0 ? "in no ref" : `in ${p.refs.join(", ")}`);
  return `  - ${parts.join("; ")}`;
}

/**
 * A leak's block: its first occurrence as a finding is shown (`path:line:column: rule: …`),
 * then the leak and each place it was, then the three steps once.
 */
function renderLeak(leak: Leak, findings: readonly Finding[]): string[] {
  const first = findings[leak.places[0]?.occurrences[0] ?? leak.occurrences[0] ?? -1];
  const versions = leak.places.reduce((sum, p) => sum + p.versions, 0);
  const head = first === undefined ? `leak ${leak.id}` : where(first);
  return [
    `${head}: ${leak.rule}: ${leak.title}${leak.masked === "" ? "" : `: ${leak.masked}`}`,
    `  leak ${leak.id}: ${leak.places.length} place${leak.places.length === 1 ? "" : "s"}, ${versions} version${versions === 1 ? "" : "s"}`,
    ...leak.places.map((p) => placeLine(p, findings)),
    `  1. ${leak.remediation.rotate}`,
    `  2. ${leak.remediation.rewrite}`,
    `  3. ${leak.remediation.compromised}`,
  ];
}

/**
 * Human-readable report: one block per finding with its three remediation steps, then a
 * summary. History, range and push scans show one block per leak instead (every place the value
 * was, see history-groups.ts); --json and --sarif keep every finding.
 */
export function renderText(result: ScanResult): string {
  const lines: string[] = [];
  for (const leak of result.leaks ?? []) lines.push(...renderLeak(leak, result.findings));
  for (const f of result.leaks === undefined ? result.findings : []) {
    // A note that a file was not fully scanned has no match to show.
    lines.push(`${where(f)}: ${f.rule}: ${f.title}${f.masked === "" ? "" : `: ${f.masked}`}`);
    if (f.commit && f.message === undefined)
      lines.push(`  first added in commit ${f.commit} (blob ${f.blob?.slice(0, 12)})`);
    lines.push(`  1. ${f.remediation.rotate}`);
    lines.push(`  2. ${f.remediation.rewrite}`);
    lines.push(`  3. ${f.remediation.compromised}`);
  }
  if (result.findings.length > 0) lines.push("");
  lines.push(summary(result));
  return `${lines.map(printable).join("\n")}\n`;
}

export function renderJson(result: ScanResult, known: { enabled: boolean; values: number }): string {
  return `${JSON.stringify(
    {
      version: 1,
      mode: result.mode,
      root: result.root,
      knownValues: known,
      findings: result.findings,
      ...(result.leaks === undefined ? {} : { leaks: result.leaks }),
      stats: result.stats,
    },
    null,
    2,
  )}\n`;
}

/**
 * A finding's SARIF location. A file: its path relative to SRCROOT, percent-encoded byte by byte
 * (lossless for any name). A message: a logical location `commit/<id>/message` (or `tag/…`)
 * and, because code scanning accepts only results with a file location, the path
 * `.git/commit/<id>/message` under SRCROOT: git never tracks a path in `.git/`, so it cannot name
 * a file of the repository.
 */
function sarifLocation(f: Finding) {
  const region = { startLine: f.line, startColumn: f.column };
  if (f.message === undefined) {
    return {
      physicalLocation: {
        artifactLocation: { uri: pathUri(findingPathBytes(f)), uriBaseId: "SRCROOT" },
        region,
      },
    };
  }
  const name = `${f.message}/${(f.message === "tag" ? f.tag : f.commit) || "new"}/message`;
  return {
    physicalLocation: { artifactLocation: { uri: `.git/${name}`, uriBaseId: "SRCROOT" }, region },
    logicalLocations: [{ fullyQualifiedName: name, kind: "object" }],
  };
}

const KNOWN_VALUE_DESCRIPTOR = {
  id: KNOWN_VALUE_RULE,
  name: "KeyholdKnownValue",
  shortDescription: { text: "a value stored in keyhold (matched by its keyed fingerprint)" },
  help: { text: "Rotate it with keyhold rotate NAME, rewrite history, and treat it as compromised." },
  defaultConfiguration: { level: "error" },
};

const INCOMPLETE_DESCRIPTOR = {
  id: INCOMPLETE_RULE,
  name: "KeyholdScanIncomplete",
  shortDescription: {
    text: "a file not fully scanned (time budget or candidate cap) or with more findings than reported",
  },
  help: { text: "Look through the file by hand; keyhold did not check or report all of it." },
  defaultConfiguration: { level: "error" },
};

function descriptor(rule: Rule) {
  return {
    id: rule.id,
    name: rule.id.replace(/(^|-)([a-z0-9])/g, (_m, _d, c: string) => c.toUpperCase()),
    shortDescription: { text: rule.title },
    help: {
      text: `Rotate first (${rule.revoke}), then rewrite git history, and treat the key as compromised.`,
    },
    defaultConfiguration: { level: "error" },
    properties: { provider: rule.provider, tags: ["security", "secret"] },
  };
}

/** SARIF 2.1.0 for code-scanning tools: every rule described, one result per finding. */
export function renderSarif(result: ScanResult, version: string): string {
  const rules = [KNOWN_VALUE_DESCRIPTOR, ...PATTERN_RULES.map(descriptor), INCOMPLETE_DESCRIPTOR];
  const index = new Map(rules.map((r, i) => [r.id, i]));
  // Every result of one leak shares its correlationGuid and "keyhold-leak/v1" fingerprint.
  const leakOf = new Map<number, string>();
  for (const leak of result.leaks ?? []) for (const i of leak.occurrences) leakOf.set(i, leak.id);
  const sarif = {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: { name: "keyhold", version, informationUri: "https://github.com/keyhold/keyhold", rules },
        },
        originalUriBaseIds: { SRCROOT: { uri: `file://${pathUri(result.root)}/` } },
        results: result.findings.map((f, i) => ({
          ruleId: f.rule,
          ruleIndex: index.get(f.rule) ?? 0,
          level: "error",
          ...(leakOf.has(i) ? { correlationGuid: leakGuid(leakOf.get(i)!) } : {}),
          message: {
            text: `${f.title}${f.masked === "" ? "" : ` (${f.masked})`}. 1. ${f.remediation.rotate}. 2. ${f.remediation.rewrite}. 3. ${f.remediation.compromised}.`,
          },
          locations: [sarifLocation(f)],
          partialFingerprints: {
            "keyhold/v1": f.id,
            ...(leakOf.has(i) ? { "keyhold-leak/v1": leakOf.get(i)! } : {}),
          },
          properties: {
            masked: f.masked,
            ...(leakOf.has(i) ? { leak: leakOf.get(i)! } : {}),
            ...(f.commit ? { commit: f.commit } : {}),
            ...(f.tag ? { tag: f.tag } : {}),
            ...(f.blob ? { blob: f.blob } : {}),
            ...(f.credentials ? { credentials: f.credentials } : {}),
          },
        })),
      },
    ],
  };
  return `${JSON.stringify(sarif, null, 2)}\n`;
}

/** GitLab's time format for a scan's start and end: UTC, to the second, no zone. */
function gitlabTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

/**
 * GitLab's secret-detection report (`gl-secret-detection-report.json`, schema 15.x): one
 * vulnerability per finding, with the masked match only (never `raw_source_code_extract`). The
 * vulnerability id is the finding id with its blob or commit, so each occurrence is its own row;
 * `identifiers` name the rule and the leak, which GitLab groups by.
 */
export function renderGitlab(result: ScanResult, version: string, finishedAt: number = Date.now()): string {
  const leakOf = new Map<number, string>();
  for (const leak of result.leaks ?? []) for (const i of leak.occurrences) leakOf.set(i, leak.id);
  const tool = { id: "keyhold", name: "keyhold", vendor: { name: "keyhold" }, version };
  const report = {
    version: "15.0.7",
    vulnerabilities: result.findings.map((f, i) => {
      const occurrence = f.blob ?? f.commit ?? f.tag ?? "";
      const file = f.message === undefined ? f.path : `.git/${f.message}/${(f.message === "tag" ? f.tag : f.commit) || "new"}/message`;
      return {
        id: `${f.id}${occurrence ? `-${occurrence.slice(0, 12)}` : ""}`,
        name: f.title,
        description: `${f.title}${f.masked === "" ? "" : ` (${f.masked})`}. 1. ${f.remediation.rotate}. 2. ${f.remediation.rewrite}. 3. ${f.remediation.compromised}.`,
        severity: "Critical",
        solution: f.remediation.rotate,
        location: {
          file,
          ...(f.commit ? { commit: { sha: f.commit } } : {}),
          start_line: f.line,
          end_line: f.line,
        },
        identifiers: [
          { type: "keyhold_rule_id", name: `keyhold rule ${f.rule}`, value: f.rule },
          ...(leakOf.has(i) ? [{ type: "keyhold_leak_id", name: `keyhold leak ${leakOf.get(i)}`, value: leakOf.get(i)! }] : []),
        ],
      };
    }),
    scan: {
      analyzer: tool,
      scanner: tool,
      type: "secret_detection",
      start_time: gitlabTime(finishedAt - result.stats.seconds * 1000),
      end_time: gitlabTime(finishedAt),
      status: "success",
    },
  };
  return `${JSON.stringify(report, null, 2)}\n`;
}

/**
 * Lines for `git filter-repo --replace-text`: `literal:<match>==>***REMOVED***` for each
 * distinct match (a regex for multi-line PEM blocks). Holds the leaked values: the CLI writes
 * it only to a pipe.
 */
export function renderReplacements(result: ScanResult): string {
  const lines = new Set<string>();
  const rules = new Map(PATTERN_RULES.map((r) => [r.id, r]));
  for (const f of result.findings) {
    const rewrite = rules.get(f.rule)?.rewrite;
    if (rewrite) {
      lines.add(`regex:${rewrite}==>***REMOVED***`);
      continue;
    }
    const match = exposeFindingMatch(f);
    if (match !== undefined && !/[\r\n]/.test(match)) lines.add(`literal:${match}==>***REMOVED***`);
  }
  return lines.size === 0 ? "" : `${[...lines].join("\n")}\n`;
}
