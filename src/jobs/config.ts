import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";
import { isAbsolute, normalize } from "node:path";
import { SecretError } from "../secret/index.js";
import { credentialNameProblem } from "../systemd/index.js";

/**
 * The job server's configuration file: JSON a person edits by hand. It is validated strictly
 * before anything runs — an unknown key is an error (a typo such as "timeoutSecond" must not
 * silently fall back to a default), every path is absolute and normalised, and a request can
 * only choose among the jobs and parameters declared here. See docs/jobserver.md.
 */

export type CodePolicy = "any" | "committed";

export interface ParamSpec {
  name: string;
  /** The whole value must match (the pattern is anchored as ^(?:pattern)$). */
  pattern: RegExp;
  source: string;
  /** Environment variable the value is passed in, if any. */
  env: string | undefined;
  default: string | undefined;
}

export interface JobSpec {
  name: string;
  /** Command and arguments; `{param}` inside an element is replaced by the parameter's value. */
  argv: string[];
  cwd: string;
  credentials: string[];
  timeoutSeconds: number;
  outputDir: string;
  params: Map<string, ParamSpec>;
  codePolicy: CodePolicy;
}

export interface HttpLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxConnections: number;
}

export interface JobServerConfig {
  stateDir: string | undefined;
  /** Finished run records kept; older ones are removed (their logs stay in the outputs). */
  keepRuns: number;
  concurrency: number;
  queueLimit: number;
  /** Between SIGTERM and SIGKILL when a run times out or is cancelled. */
  killGraceSeconds: number;
  /** How long a stopping server lets running jobs finish before killing them. */
  stopGraceSeconds: number;
  /** The whole environment a job starts with, besides CREDENTIALS_DIRECTORY and its parameters. */
  environment: { PATH: string; HOME: string; LANG: string };
  http: HttpLimits;
  jobs: Map<string, JobSpec>;
}

export const JOB_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const PARAM_NAME = /^[a-z][a-z0-9_]{0,31}$/;
const ENV_NAME = /^[A-Z_][A-Z0-9_]{0,63}$/;
export const PARAM_VALUE_MAX = 4096;
/** Variables a parameter may not set: the fixed environment, and ones that change what runs. */
const RESERVED_ENV = new Set([
  "PATH",
  "HOME",
  "LANG",
  "CREDENTIALS_DIRECTORY",
  "BASH_ENV",
  "ENV",
  "IFS",
  "NODE_OPTIONS",
  "PYTHONPATH",
  "PYTHONSTARTUP",
  "PYTHONHOME",
  "PERL5OPT",
  "PERL5LIB",
  "RUBYOPT",
  "GIT_DIR",
  "GIT_EXEC_PATH",
]);
const RESERVED_ENV_PREFIXES = ["LD_", "KEYHOLD_", "SYSTEMD_", "GCONV_", "MALLOC_"];
const PLACEHOLDER = /\{([a-z][a-z0-9_]{0,31})\}/g;

const TOP_KEYS = [
  "stateDir",
  "keepRuns",
  "concurrency",
  "queueLimit",
  "killGraceSeconds",
  "stopGraceSeconds",
  "environment",
  "http",
  "jobs",
] as const;
const JOB_KEYS = [
  "argv",
  "cwd",
  "credentials",
  "timeoutSeconds",
  "outputDir",
  "params",
  "codePolicy",
] as const;
const PARAM_KEYS = ["pattern", "env", "default"] as const;
const HTTP_KEYS = ["headersTimeoutMs", "requestTimeoutMs", "maxConnections"] as const;
const ENVIRONMENT_KEYS = ["PATH", "HOME", "LANG"] as const;

function invalid(where: string, problem: string): SecretError {
  return new SecretError("CONFIG_INVALID", `config ${where}: ${problem}`, {
    hint: "see docs/jobserver.md for the configuration file",
  });
}

type Obj = Record<string, unknown>;

function object(value: unknown, where: string): Obj {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw invalid(where, "must be an object");
  return value as Obj;
}

function onlyKeys(obj: Obj, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw new SecretError("CONFIG_UNKNOWN_KEY", `config ${where}: unknown key ${JSON.stringify(key)}`, {
        hint: `allowed keys: ${allowed.join(", ")}`,
      });
    }
  }
}

function integer(value: unknown, where: string, min: number, max: number, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(where, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

function positive(value: unknown, where: string, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > max) {
    throw invalid(where, `must be a number greater than 0 and at most ${max}`);
  }
  return value;
}

function text(value: unknown, where: string): string {
  if (typeof value !== "string" || value.length === 0) throw invalid(where, "must be a non-empty string");
  if (value.includes("\0")) throw invalid(where, "must not contain NUL bytes");
  return value;
}

function absolutePath(value: unknown, where: string): string {
  const path = text(value, where);
  if (!isAbsolute(path)) throw invalid(where, "must be an absolute path");
  if (normalize(path) !== path) {
    throw invalid(where, "must be a normalised path (no '..', '.', or '//')");
  }
  return path;
}

function envName(value: unknown, where: string): string {
  const name = text(value, where);
  if (!ENV_NAME.test(name)) throw invalid(where, "must be an environment variable name (A-Z, 0-9, _)");
  if (RESERVED_ENV.has(name) || RESERVED_ENV_PREFIXES.some((p) => name.startsWith(p))) {
    throw invalid(where, `${name} is reserved and may not be set by a parameter`);
  }
  return name;
}

function parseParam(name: string, value: unknown, where: string): ParamSpec {
  if (!PARAM_NAME.test(name))
    throw invalid(where, "parameter names are a-z, 0-9, _ (starting with a letter, ≤ 32)");
  const obj = object(value, where);
  onlyKeys(obj, PARAM_KEYS, where);
  const source = text(obj.pattern, `${where}.pattern`);
  let pattern: RegExp;
  try {
    pattern = new RegExp(`^(?:${source})$`, "u");
  } catch {
    throw invalid(`${where}.pattern`, "is not a valid regular expression");
  }
  const env = obj.env === undefined ? undefined : envName(obj.env, `${where}.env`);
  let fallback: string | undefined;
  if (obj.default !== undefined) {
    if (typeof obj.default !== "string") throw invalid(`${where}.default`, "must be a string");
    if (!pattern.test(obj.default)) throw invalid(`${where}.default`, "does not match the pattern");
    fallback = obj.default;
  }
  return { name, pattern, source, env, default: fallback };
}

function parseJob(name: string, value: unknown): JobSpec {
  const where = `jobs.${name}`;
  if (!JOB_NAME.test(name))
    throw invalid(where, "job names are a-z, 0-9, _ and - (≤ 64, starting with a letter or digit)");
  const obj = object(value, where);
  onlyKeys(obj, JOB_KEYS, where);
  if (!Array.isArray(obj.argv) || obj.argv.length === 0)
    throw invalid(`${where}.argv`, "must be a non-empty array of strings");
  const argv = obj.argv.map((a, i) => {
    if (typeof a !== "string" || a.includes("\0"))
      throw invalid(`${where}.argv[${i}]`, "must be a string without NUL bytes");
    return a;
  });
  if (argv[0] === "") throw invalid(`${where}.argv[0]`, "must name a program");
  const params = new Map<string, ParamSpec>();
  if (obj.params !== undefined) {
    for (const [pname, pvalue] of Object.entries(object(obj.params, `${where}.params`))) {
      params.set(pname, parseParam(pname, pvalue, `${where}.params.${pname}`));
    }
  }
  const used = new Set<string>();
  argv.forEach((a, i) => {
    for (const m of a.matchAll(PLACEHOLDER)) {
      const p = m[1] as string;
      if (!params.has(p))
        throw invalid(`${where}.argv[${i}]`, `placeholder {${p}} names no declared parameter`);
      used.add(p);
    }
  });
  const envs = new Set<string>();
  for (const p of params.values()) {
    if (p.env !== undefined) {
      if (envs.has(p.env))
        throw invalid(`${where}.params.${p.name}.env`, `${p.env} is used by two parameters`);
      envs.add(p.env);
    } else if (!used.has(p.name)) {
      throw invalid(`${where}.params.${p.name}`, "is neither an argv placeholder nor given an env name");
    }
  }
  let credentials: string[] = [];
  if (obj.credentials !== undefined) {
    if (!Array.isArray(obj.credentials))
      throw invalid(`${where}.credentials`, "must be an array of credential names");
    credentials = obj.credentials.map((c, i) => {
      if (typeof c !== "string") throw invalid(`${where}.credentials[${i}]`, "must be a string");
      const problem = credentialNameProblem(c);
      if (problem !== undefined) throw invalid(`${where}.credentials[${i}]`, problem);
      return c;
    });
    if (new Set(credentials).size !== credentials.length)
      throw invalid(`${where}.credentials`, "lists a name twice");
  }
  const codePolicy = obj.codePolicy ?? "any";
  if (codePolicy !== "any" && codePolicy !== "committed")
    throw invalid(`${where}.codePolicy`, 'must be "any" or "committed"');
  return {
    name,
    argv,
    cwd: absolutePath(obj.cwd, `${where}.cwd`),
    credentials,
    timeoutSeconds: positive(obj.timeoutSeconds, `${where}.timeoutSeconds`, 7 * 24 * 3600, 600),
    outputDir: absolutePath(obj.outputDir, `${where}.outputDir`),
    params,
    codePolicy,
  };
}

/** Validates a parsed configuration object; throws CONFIG_INVALID / CONFIG_UNKNOWN_KEY. */
export function parseJobServerConfig(value: unknown): JobServerConfig {
  const top = object(value, "file");
  onlyKeys(top, TOP_KEYS, "file");
  const environmentIn = top.environment === undefined ? {} : object(top.environment, "environment");
  onlyKeys(environmentIn, ENVIRONMENT_KEYS, "environment");
  const httpIn = top.http === undefined ? {} : object(top.http, "http");
  onlyKeys(httpIn, HTTP_KEYS, "http");
  const jobs = new Map<string, JobSpec>();
  for (const [name, job] of Object.entries(object(top.jobs, "jobs"))) jobs.set(name, parseJob(name, job));
  if (jobs.size === 0) throw invalid("jobs", "declares no job");
  const http = {
    headersTimeoutMs: integer(httpIn.headersTimeoutMs, "http.headersTimeoutMs", 100, 600_000, 10_000),
    requestTimeoutMs: integer(httpIn.requestTimeoutMs, "http.requestTimeoutMs", 100, 3_600_000, 30_000),
    maxConnections: integer(httpIn.maxConnections, "http.maxConnections", 1, 65_536, 256),
  };
  if (http.headersTimeoutMs > http.requestTimeoutMs) {
    throw invalid("http.headersTimeoutMs", "must not be longer than http.requestTimeoutMs");
  }
  return {
    stateDir: top.stateDir === undefined ? undefined : absolutePath(top.stateDir, "stateDir"),
    keepRuns: integer(top.keepRuns, "keepRuns", 1, 1_000_000, 10_000),
    concurrency: integer(top.concurrency, "concurrency", 1, 256, 2),
    queueLimit: integer(top.queueLimit, "queueLimit", 0, 100_000, 1000),
    killGraceSeconds: positive(top.killGraceSeconds, "killGraceSeconds", 3600, 5),
    stopGraceSeconds: positive(top.stopGraceSeconds, "stopGraceSeconds", 24 * 3600, 30),
    environment: {
      PATH:
        environmentIn.PATH === undefined
          ? "/usr/local/bin:/usr/bin:/bin"
          : text(environmentIn.PATH, "environment.PATH"),
      HOME: environmentIn.HOME === undefined ? "/tmp" : absolutePath(environmentIn.HOME, "environment.HOME"),
      LANG: environmentIn.LANG === undefined ? "C.UTF-8" : text(environmentIn.LANG, "environment.LANG"),
    },
    http,
    jobs,
  };
}

const CONFIG_MAX_BYTES = 1024 * 1024;

/**
 * The configuration file's text. It decides what runs with the keys, so it must be a regular file
 * nobody but its owner can change (a group- or world-writable one would let anyone declare a job
 * that prints them); it is read without blocking (a FIFO would stall the server on reload) and up
 * to a size no hand-written file reaches. Links are followed: configuration tools often place them.
 */
function readConfigText(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new SecretError("FILE_NOT_FOUND", `job server config not found: ${path}`, {
        hint: "write one (see docs/jobserver.md) or pass --config PATH",
      });
    }
    throw new SecretError("IO_ERROR", `cannot read the job server config ${path}: ${code ?? "error"}`, {
      cause: err,
    });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new SecretError("NOT_A_FILE", `job server config is not a regular file: ${path}`);
    if ((st.mode & 0o022) !== 0) {
      throw new SecretError("CONFIG_INVALID", `job server config ${path} is writable by group or others`, {
        hint: `anyone who can write it decides what runs with the keys: chmod go-w ${path}`,
      });
    }
    if (st.size > CONFIG_MAX_BYTES) {
      throw new SecretError("TOO_LARGE", `job server config ${path} is larger than 1 MiB`);
    }
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}

/** Reads and validates the configuration file at `path`. */
export function loadJobServerConfig(path: string): JobServerConfig {
  const raw = readConfigText(path);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    // JSON.parse messages quote the text near the error; a config holds no secret values.
    const detail = err instanceof Error ? err.message.toLowerCase() : "syntax error";
    throw new SecretError("INVALID_FORMAT", `job server config ${path} is not valid JSON: ${detail}`);
  }
  return parseJobServerConfig(parsed);
}

/** Resolves a run's parameters against the job's declarations; throws ApiError-compatible codes. */
export type ParamProblem = { code: "PARAM_UNKNOWN" | "PARAM_INVALID" | "PARAM_MISSING"; message: string };

export function resolveParams(
  job: JobSpec,
  given: Record<string, unknown>,
): Map<string, string> | ParamProblem {
  for (const key of Object.keys(given)) {
    if (!job.params.has(key))
      return {
        code: "PARAM_UNKNOWN",
        message: `job ${job.name} has no parameter ${JSON.stringify(key.slice(0, 64))}`,
      };
  }
  const values = new Map<string, string>();
  for (const spec of job.params.values()) {
    const value = given[spec.name];
    if (value === undefined) {
      if (spec.default === undefined)
        return { code: "PARAM_MISSING", message: `parameter ${spec.name} is required` };
      values.set(spec.name, spec.default);
      continue;
    }
    if (typeof value !== "string")
      return { code: "PARAM_INVALID", message: `parameter ${spec.name} must be a string` };
    if (Buffer.byteLength(value) > PARAM_VALUE_MAX)
      return {
        code: "PARAM_INVALID",
        message: `parameter ${spec.name} is longer than ${PARAM_VALUE_MAX} bytes`,
      };
    if (value.includes("\0") || !spec.pattern.test(value)) {
      return { code: "PARAM_INVALID", message: `parameter ${spec.name} does not match ${spec.source}` };
    }
    values.set(spec.name, value);
  }
  return values;
}

/** The job's argv with `{param}` placeholders replaced. */
export function substituteArgv(job: JobSpec, values: ReadonlyMap<string, string>): string[] {
  return job.argv.map((a) => a.replace(PLACEHOLDER, (_m, p: string) => values.get(p) ?? ""));
}
