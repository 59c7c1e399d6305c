// The archives a scanned tree or history brings (src/scan/archives.ts). The first byte picks how
// the rest is read: zip (0), tar (1) or tar.gz (2), both through archiveMembers and through the
// Scanner. Invariants: nothing is thrown; the members read never hold more bytes than the budget
// nor number more than MAX_ARCHIVE_MEMBERS; a problem is one of the archive-* reasons and ends the
// archive when fatal; the Scanner's findings are all named `<archive>!<member>`, it scans no more
// bytes than --max-size, and every limit it counts comes with a warning.
import { ARCHIVE_SKIPS, archiveBudget, archiveMembers, MAX_ARCHIVE_MEMBERS } from "../../dist/src/scan/archives.js";
import { Scanner } from "../../dist/src/scan/scanner.js";
import { check } from "../support.mjs";

const KINDS = [
  ["zip", "f.zip"],
  ["tar", "f.tar"],
  ["tgz", "f.tar.gz"],
];
const MAX = 64 * 1024;

export function fuzz(data) {
  if (data.length === 0) return;
  const [kind, name] = KINDS[data[0] % KINDS.length];
  const bytes = Buffer.from(data.subarray(1));
  const budget = archiveBudget(MAX);
  let total = 0;
  let members = 0;
  let ended = false;
  for (const item of archiveMembers(kind, bytes, budget)) {
    check(!ended, "an item after a fatal problem");
    if ("data" in item) {
      check(Buffer.isBuffer(item.name) && Buffer.isBuffer(item.data), "member shape");
      total += item.data.length;
      members++;
    } else {
      check(ARCHIVE_SKIPS.includes(item.skip), `unknown reason ${item.skip}`);
      check(typeof item.why === "string" && item.why.length > 0 && item.why.length < 200, "why");
      ended = item.fatal;
    }
  }
  check(total <= MAX, `${total} bytes read with a budget of ${MAX}`);
  check(members <= MAX_ARCHIVE_MEMBERS, `${members} members`);

  const scanner = new Scanner({ maxSize: MAX });
  scanner.scan(name, bytes);
  check(scanner.stats.bytes <= MAX, `${scanner.stats.bytes} bytes scanned`);
  for (const f of scanner.findings) check(f.path.startsWith(`${name}!`), `finding named ${f.path}`);
  const limits = ARCHIVE_SKIPS.reduce((n, r) => n + (scanner.stats.skipped[r] ?? 0), 0);
  check(limits === 0 || scanner.stats.warnings.length > 0, "a limit counted without a warning");
}
