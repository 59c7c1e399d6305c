import { parentPort, workerData } from "node:worker_threads";
import { detect, PATTERN_RULES } from "../../../src/scan/index.js";
import { hostileInputs, hostilePath } from "./hostile-input.js";

/*
 * Runs one rule over its hostile inputs in a worker thread, so that the test can terminate a
 * catastrophic match (which a timer on the main thread cannot interrupt). Posts one message
 * before and one after each input.
 */
const ruleId = (workerData as { rule: string }).rule;
const rule = PATTERN_RULES.find((r) => r.id === ruleId);
if (rule === undefined) throw new Error(`unknown rule ${ruleId}`);
const path = hostilePath(rule);
for (const input of hostileInputs(rule)) {
  const bytes = Buffer.from(input.text, "latin1");
  parentPort?.postMessage({ kind: "start", label: input.label, bytes: bytes.length });
  const started = performance.now();
  // No time budget: the test measures the rule itself, not the safety net.
  const found = detect(bytes, path, [rule], undefined, { budgetMs: Number.POSITIVE_INFINITY }).length;
  parentPort?.postMessage({ kind: "done", label: input.label, ms: performance.now() - started, found });
}
parentPort?.postMessage({ kind: "end" });
