// The job server's configuration (src/jobs/config.ts), as JSON text, and the parameters of a run
// checked against it. Invariants: CONFIG_INVALID / CONFIG_UNKNOWN_KEY or a configuration whose
// every path is absolute and normalised, every placeholder declared and every default matching
// its pattern; resolveParams gives values that match their patterns, or a PARAM_* problem.
import { posix } from "node:path";
import { parseJobServerConfig } from "../../dist/src/jobs/index.js";
import { resolveParams, substituteArgv } from "../../dist/src/jobs/config.js";
import { check, expectCoded } from "../support.mjs";

const isNormalAbsolute = (p) => typeof p === "string" && p.startsWith("/") && posix.normalize(p) === p;

export function fuzz(data) {
  const cut = data.indexOf(0);
  const text = data.subarray(0, cut < 0 ? data.length : cut).toString("utf8");
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    return; // JSON.parse's own errors are not keyhold's (loadJobServerConfig wraps them)
  }
  let config;
  try {
    config = parseJobServerConfig(value);
  } catch (err) {
    expectCoded(err, ["CONFIG_INVALID", "CONFIG_UNKNOWN_KEY"]);
    return;
  }
  check(config.jobs.size > 0, "a configuration without jobs");
  if (config.stateDir !== undefined) check(isNormalAbsolute(config.stateDir), "stateDir");
  const given = cut < 0 ? {} : (() => {
    try {
      const v = JSON.parse(data.subarray(cut + 1).toString("utf8"));
      return typeof v === "object" && v !== null && !Array.isArray(v) ? v : {};
    } catch {
      return {};
    }
  })();
  for (const job of config.jobs.values()) {
    check(isNormalAbsolute(job.cwd) && isNormalAbsolute(job.outputDir), `paths of ${job.name}`);
    check(job.argv.length > 0 && job.argv[0] !== "", `argv of ${job.name}`);
    for (const p of job.params.values()) {
      if (p.default !== undefined) check(p.pattern.test(p.default), `default of ${job.name}.${p.name}`);
    }
    const values = resolveParams(job, given);
    if (!(values instanceof Map)) {
      check(["PARAM_UNKNOWN", "PARAM_INVALID", "PARAM_MISSING"].includes(values.code), values.code);
      continue;
    }
    for (const [name, v] of values) {
      const spec = job.params.get(name);
      check(spec?.pattern.test(v) && !v.includes("\0"), `param ${name} does not match`);
    }
    const argv = substituteArgv(job, values);
    check(argv.length === job.argv.length, "substitution changed the number of arguments");
  }
}
