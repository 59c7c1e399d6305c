import { parentPort, workerData } from "node:worker_threads";
import { detect, PATTERN_RULES } from "../../../src/scan/index.js";
import { hostileInputs, secretDataHostileInputs } from "./hostile-input.js";

/*
 * Runs one rule over its hostile inputs in a worker thread, so that the test can terminate a
 * catastrophic match (which a timer on the main thread cannot interrupt). Posts one message
 * before and one after each input.
 */
// `rule` and `path`: that rule's inputs scanned as that path. `secretData`: Kubernetes Secrets,
// whose decoded values every rule reads.
const job = workerData as { rule: string; path: string } | { secretData: true };
const [rules, path, inputs] =
  "secretData" in job
    ? [PATTERN_RULES, "secret.yaml", secretDataHostileInputs()]
    : (() => {
        const rule = PATTERN_RULES.find((r) => r.id === job.rule);
        if (rule === undefined) throw new Error(`unknown rule ${job.rule}`);
        return [[rule], job.path, hostileInputs(rule)] as const;
      })();
for (const input of inputs) {
  const bytes = Buffer.from(input.text, "latin1");
  parentPort?.postMessage({ kind: "start", label: input.label, bytes: bytes.length });
  const started = performance.now();
  // No time budget: the test measures the rules themselves, not the safety net.
  const found = detect(bytes, path, rules, undefined, { budgetMs: Number.POSITIVE_INFINITY }).length;
  parentPort?.postMessage({ kind: "done", label: input.label, ms: performance.now() - started, found });
}
parentPort?.postMessage({ kind: "end" });
