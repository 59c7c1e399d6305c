import { SecretError } from "../secret/index.js";
import { runTool } from "./process.js";

/**
 * Wrappers of `systemd-analyze verify` and `systemd-analyze security --offline=true`.
 *
 * `verify` exits 0 on parse warnings ("Unknown key 'Bogus' in section [Service], ignoring."),
 * so a unit counts as valid only when verify exits 0 AND prints nothing on stderr.
 * `verify` also checks that the binaries named by ExecStart= exist on the machine it runs on.
 */

export interface AnalyzeOptions {
  env?: NodeJS.ProcessEnv;
  /** The systemd-analyze binary. */
  binary?: string;
  /**
   * Extra unit directories searched before the defaults (SYSTEMD_UNIT_PATH), so a drop-in written
   * under another root is verified together with its service.
   */
  unitPath?: readonly string[];
}

export interface VerifyResult {
  ok: boolean;
  exitCode: number | null;
  /** Everything verify printed, one entry per line (empty when ok). */
  messages: string[];
}

function analyzeEnv(options: AnalyzeOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...(options.env ?? process.env),
    SYSTEMD_LOG_COLOR: "0",
    SYSTEMD_PAGER: "",
  };
  if (options.unitPath !== undefined && options.unitPath.length > 0) {
    // A trailing ':' appends systemd's default search path.
    env.SYSTEMD_UNIT_PATH = `${options.unitPath.join(":")}:`;
  }
  return env;
}

async function analyze(args: string[], options: AnalyzeOptions) {
  const binary = options.binary ?? "systemd-analyze";
  try {
    return await runTool(binary, args, { env: analyzeEnv(options), timeoutMs: 60_000 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new SecretError("SYSTEMD_CREDS_MISSING", `${binary} not found`, {
        hint: "install systemd",
        cause: err,
      });
    }
    throw err;
  }
}

/** Runs `systemd-analyze verify` on unit files (paths) or unit names found through unitPath. */
export async function verifyUnits(
  units: readonly string[],
  options: AnalyzeOptions = {},
): Promise<VerifyResult> {
  const result = await analyze(["verify", "--no-pager", ...units], options);
  const messages = `${result.stderr}\n${result.stdout.toString("utf8")}`
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l.length > 0);
  const ok = result.code === 0 && result.stderr.trim().length === 0;
  return { ok, exitCode: result.code, messages: ok ? [] : messages };
}

/** verifyUnits, throwing UNIT_INVALID with verify's first message when the units are not clean. */
export async function assertUnitsVerify(
  units: readonly string[],
  options: AnalyzeOptions = {},
): Promise<void> {
  const result = await verifyUnits(units, options);
  if (!result.ok) {
    const first = result.messages[0] ?? `systemd-analyze verify exited with ${result.exitCode}`;
    throw new SecretError("UNIT_INVALID", `systemd-analyze verify refused the unit: ${first}`, {
      hint:
        result.messages.length > 1
          ? `${result.messages.length} messages; run systemd-analyze verify yourself`
          : undefined,
    });
  }
}

export interface SecurityFinding {
  /** The setting assessed, e.g. "PrivateNetwork=" or "RestrictAddressFamilies=~AF_(INET|INET6)". */
  setting: string;
  description: string;
  /** The exposure this finding adds (0.0-1.0 as systemd prints it); 0 when the setting is safe. */
  exposure: number;
}

export interface SecurityReport {
  /** Overall exposure, 0.0 (best) to 10.0, as `systemd-analyze security` prints it. */
  exposure: number;
  /** systemd's word for it: SAFE, OK, MEDIUM, EXPOSED, UNSAFE. */
  rating: string;
  /** The settings that still add exposure, largest first. */
  findings: SecurityFinding[];
}

const OVERALL = /Overall exposure level for \S+: ([0-9]+(?:\.[0-9]+)?) (\w+)/;

/**
 * `systemd-analyze security --offline=true FILE`: the exposure score of a unit file that is not
 * loaded. The overall score is read from the text output (the JSON form has no overall field);
 * the findings from the JSON form.
 */
export async function securityExposure(
  unitFile: string,
  options: AnalyzeOptions = {},
): Promise<SecurityReport> {
  const text = await analyze(["security", "--no-pager", "--offline=true", unitFile], options);
  const match = OVERALL.exec(text.stdout.toString("utf8"));
  if (text.code !== 0 || match === null) {
    throw new SecretError(
      "UNIT_INVALID",
      `systemd-analyze security failed: ${text.stderr.trim().split("\n")[0] ?? ""}`,
    );
  }
  const json = await analyze(["security", "--no-pager", "--offline=true", "--json=short", unitFile], options);
  const items = JSON.parse(json.stdout.toString("utf8")) as {
    set: boolean;
    name: string;
    description: string;
    exposure: string | number | null;
  }[];
  const findings = items
    .map((i) => ({ setting: i.name, description: i.description, exposure: Number(i.exposure ?? 0) }))
    .filter((f) => f.exposure > 0)
    .sort((a, b) => b.exposure - a.exposure);
  return { exposure: Number(match[1]), rating: match[2] ?? "", findings };
}
