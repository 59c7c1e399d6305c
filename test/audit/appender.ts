/**
 * A child process for the audit concurrency and kill -9 tests:
 *   node appender.js STATE COUNT LABEL [checked]
 * appends COUNT records (0: until killed), writing "ready\n" to stdout after the first one.
 * With `checked`, each append is preceded by ensureWritable, as every audited CLI operation
 * (`keyhold run` among them) checks the log before it acts and appends when it is done.
 * Run with no arguments (as the test runner does with every file), it does nothing.
 */
import { openStateAuditLog } from "../../src/audit/index.js";

const [state, count, label, mode] = process.argv.slice(2);
if (state !== undefined) {
  const log = await openStateAuditLog(state, { env: process.env });
  const total = Number(count ?? "1");
  for (let i = 1; total === 0 || i <= total; i++) {
    if (mode === "checked") await log.ensureWritable();
    await log.append({ op: "test.append", name: `${label ?? "child"}-${i}`, result: "ok", detail: { i } });
    if (i === 1) process.stdout.write("ready\n");
  }
}
