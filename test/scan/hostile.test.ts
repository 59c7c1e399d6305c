import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import { detect, PATTERN_RULES } from "../../src/scan/index.js";
import { hostilePaths } from "./support/hostile-input.js";
import { SeededRandom } from "./support/synthetic.js";

/*
 * Hostile input: every pattern rule against inputs built from its own prefixes and alphabets
 * (support/hostile-input.ts), about 1 MiB each, in a worker that is terminated when one input
 * takes longer than the bound. The bound is coarse so that a slow machine does not fail it; a
 * backtracking pattern takes minutes to hours on these inputs. Measured times are printed as
 * diagnostics.
 */
const BOUND_MS = 10_000;

interface Progress {
  kind: "start" | "done" | "end";
  label?: string;
  ms?: number;
  found?: number;
}

function runHostile(
  job: { rule: string; path: string } | { secretData: true },
  rule: string,
  boundMs = BOUND_MS,
): Promise<{ total: number; worst: number; worstLabel: string; inputs: number }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./support/hostile-worker.js", import.meta.url), {
      workerData: job,
    });
    let timer: NodeJS.Timeout | undefined;
    let total = 0;
    let worst = 0;
    let worstLabel = "";
    let inputs = 0;
    const fail = (error: Error) => {
      clearTimeout(timer);
      void worker.terminate();
      reject(error);
    };
    worker.on("message", (m: Progress) => {
      clearTimeout(timer);
      if (m.kind === "start") {
        timer = setTimeout(
          () =>
            fail(
              new Error(
                `${rule}: ${m.label} took longer than ${boundMs / 1000} s (catastrophic backtracking)`,
              ),
            ),
          boundMs,
        );
      } else if (m.kind === "done") {
        inputs++;
        total += m.ms ?? 0;
        if ((m.ms ?? 0) > worst) {
          worst = m.ms ?? 0;
          worstLabel = m.label ?? "";
        }
      } else {
        void worker.terminate();
        resolve({ total, worst, worstLabel, inputs });
      }
    });
    worker.on("error", fail);
  });
}

describe("pattern rules on hostile input (linear time)", () => {
  for (const rule of PATTERN_RULES) {
    for (const path of hostilePaths(rule)) {
      const label = path === "hostile.txt" || path === ".env" ? rule.id : `${rule.id} in ${path}`;
      it(`${label}: each ~1 MiB hostile input in under ${BOUND_MS / 1000} s`, async (t) => {
        const r = await runHostile({ rule: rule.id, path }, label);
        t.diagnostic(
          `${label}: ${r.inputs} inputs in ${r.total.toFixed(0)} ms; slowest ${r.worst.toFixed(1)} ms (${r.worstLabel})`,
        );
      });
    }
  }
});

// Every rule reads each decoded value: the bound is for all of them over one input.
const ALL_RULES_BOUND_MS = 3 * BOUND_MS;

describe("Kubernetes Secret data on hostile input (decoded, every rule; linear time)", () => {
  it(`each ~1 MiB manifest in under ${ALL_RULES_BOUND_MS / 1000} s`, async (t) => {
    const r = await runHostile({ secretData: true }, "secret data", ALL_RULES_BOUND_MS);
    t.diagnostic(
      `${r.inputs} inputs in ${r.total.toFixed(0)} ms; slowest ${r.worst.toFixed(1)} ms (${r.worstLabel})`,
    );
  });
});

function rule(id: string) {
  const found = PATTERN_RULES.find((r) => r.id === id);
  assert.ok(found, id);
  return found;
}

function secrets(id: string, text: string, path = "f.txt"): string[] {
  return detect(Buffer.from(text, "latin1"), path, [rule(id)], undefined).map((d) => d.secret);
}

describe("rewritten patterns find what they found before", () => {
  const random = new SeededRandom("keyhold-hostile-semantics");
  const b64 = (n: number) => random.chars("b64", n);

  it("dotenv-tracked: quotes, comments and blanks", () => {
    const v = random.chars("alnum", 24);
    const cases: [string, string[]][] = [
      [`API_KEY=${v} # comment`, [v]],
      [`API_KEY=${v}#comment`, [v]],
      [`API_KEY=${v}   `, [v]],
      [`API_KEY=${v} ${v}  `, [`${v} ${v}`]],
      [`API_KEY='${v} #x '  # comment`, [`${v} #x `]],
      [`  export API_KEY = "${v}"`, [v]],
      [`API_KEY=${v}\r\nOTHER=1`, [v]],
      [`API_KEY="${v}'`, []],
      [`API_KEY=${v}"x`, []],
      [`API_KEY="${v}"x`, []],
    ];
    for (const [line, want] of cases) assert.deepEqual(secrets("dotenv-tracked", line, ".env"), want, line);
  });

  it("private-key: an encrypted PEM with RFC 1421 headers and a blank line", () => {
    const body = b64(64);
    const pem = [
      `-----BEGIN RSA PRIVATE ${""}KEY-----`,
      "Proc-Type: 4,ENCRYPTED",
      `DEK-Info: AES-128-CBC,${random.chars("hex", 32).toUpperCase()}`,
      "",
      body,
      `${b64(40)}==`,
      `-----END RSA PRIVATE ${""}KEY-----`,
    ].join("\n");
    const found = secrets("private-key", pem);
    assert.equal(found.length, 1);
    assert.ok(found[0]?.endsWith(body));
    assert.ok(found[0]?.includes("DEK-Info"));
  });

  it("private-key: a PEM block indented in code or YAML", () => {
    const body = b64(64);
    const pem = `  key: |\n    -----BEGIN OPENSSH PRIVATE ${""}KEY-----\n${" ".repeat(24)}${body}\n    -----END OPENSSH PRIVATE ${""}KEY-----`;
    const found = secrets("private-key", pem);
    assert.equal(found.length, 1);
    assert.ok(found[0]?.endsWith(body));
  });

  it("sentry-token: an org token after =, a quote and a blank; not inside a longer run", () => {
    const token = `sntr${""}ys_eyJ${random.chars("b64u", 120)}_${random.chars("b64", 43)}`;
    assert.deepEqual(secrets("sentry-token", `SENTRY_AUTH_TOKEN=${token}\n`), [token]);
    assert.deepEqual(secrets("sentry-token", `token: '${token}'`), [token]);
    assert.deepEqual(secrets("sentry-token", `x ${token} y`), [token]);
    assert.deepEqual(secrets("sentry-token", `path/${token}`), []);
  });
});
