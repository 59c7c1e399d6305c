// Unit rendering (src/units/render.ts renderUnit) from options a user types on the command line.
// Invariants: a coded error (USAGE, SECRET_IN_COMMAND, INVALID_NAME) or unit files that systemd
// reads exactly as keyhold wrote them: the directives a systemd-style reader sees (with its
// line continuation and comments) are the lines keyhold emitted, no value holds a control
// character, a '%' other than %%, %d or %i, or a '$' that is not doubled; one
// LoadCredentialEncrypted= per credential; a secret-looking --exec word is refused and never
// repeated in the error or a file.
import { FuzzedDataProvider } from "@jazzer.js/core";
import { renderUnit } from "../../dist/src/units/index.js";
import { assertNoCanary, check, expectCoded, makeCanary } from "../support.mjs";

const CANARY = makeCanary("unit");
const PIECES = ["/usr/bin/app", "/opt/app/run", "--flag", "%d/key", "'quoted word'", '"dq \\" x"', "a\\ b", "$HOME", "100%", ";", "\\", "x=y", "--token", "abc"];

function str(p, max, pieces = []) {
  if (pieces.length > 0 && p.consumeBoolean()) return p.pickValue(pieces);
  return p.consumeString(p.consumeIntegralInRange(0, max), "utf-8");
}

function list(p, make) {
  const out = [];
  for (let i = p.consumeIntegralInRange(0, 3); i > 0; i--) out.push(make());
  return out;
}

function options(p, withCanary) {
  const o = {
    mode: p.pickValue(["standard", "isolated", "jobserver", "jobserver", str(p, 10)]),
    service: str(p, 30, ["app", "my-app.service", "a\\", "x\\x2d", "web:1"]),
  };
  if (p.consumeBoolean()) {
    const words = list(p, () => str(p, 20, PIECES));
    if (withCanary) words.splice(p.consumeIntegralInRange(0, words.length), 0, CANARY);
    o.exec = ["/usr/bin/app", ...words].join(p.pickValue([" ", "\t", "  "]));
  }
  if (p.consumeBoolean()) o.credentials = list(p, () => str(p, 30, ["api_key", "db:/etc/creds/db", "x:y", "a:b:c"]));
  if (p.consumeBoolean()) o.bindPaths = list(p, () => str(p, 30, ["/srv/data", "/home/me/proj", "/"]));
  if (p.consumeBoolean()) o.bindReadOnlyPaths = list(p, () => str(p, 30, ["/etc/app", "/root/x"]));
  if (p.consumeBoolean()) o.group = str(p, 12, ["keyhold", "dev$"]);
  if (p.consumeBoolean()) o.ipAllow = list(p, () => str(p, 20, ["localhost", "10.0.0.0/8", "::1/128", "1.2.3.4/33"]));
  if (p.consumeBoolean()) o.dropIn = p.consumeBoolean();
  if (p.consumeBoolean()) o.store = str(p, 30, ["/etc/credstore.encrypted", "/home/u/store"]);
  if (p.consumeBoolean()) o.state = str(p, 30, ["/var/lib/keyhold"]);
  if (p.consumeBoolean()) o.keyholdRoot = str(p, 30, ["/opt/keyhold", "/home/dev/keyhold"]);
  if (p.consumeBoolean()) o.config = str(p, 30, ["/etc/keyhold/jobs.json"]);
  if (p.consumeBoolean()) o.description = str(p, 40, ["my service", "50% done", "ends with \\", "a\rb"]);
  if (p.consumeBoolean()) o.vault = list(p, () => ({ ns: str(p, 12, ["weather"]), name: str(p, 12, ["api_key"]) }));
  if (p.consumeBoolean()) o.vaultNetwork = true;
  return o;
}

/** The directives systemd reads from a unit file: comments dropped, "\" at a line end joins lines. */
function systemdDirectives(text) {
  const out = [];
  let pending = null;
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (pending === null && (trimmed.startsWith("#") || trimmed.startsWith(";"))) continue;
    if (pending !== null && (trimmed.startsWith("#") || trimmed.startsWith(";"))) continue;
    const joined = pending === null ? trimmed : `${pending} ${trimmed}`;
    if (joined.endsWith("\\")) {
      pending = joined.slice(0, -1);
      continue;
    }
    pending = null;
    if (joined !== "") out.push(joined);
  }
  if (pending !== null) out.push(pending);
  return out;
}

function checkValue(key, value) {
  check(!/[\x00-\x1f\x7f]/.test(value), `${key}= holds a control character`);
  check(!/%[^%di]|%$/.test(value.replaceAll("%%", "")), `${key}= holds a specifier systemd would expand: ${value}`);
  if (key === "ExecStart") check(!/\$/.test(value.replaceAll("$$", "")), `${key}= holds a variable: ${value}`);
}

export function fuzz(data) {
  const p = new FuzzedDataProvider(data);
  const withCanary = p.consumeBoolean() && p.consumeBoolean();
  const o = options(p, withCanary);
  let rendered;
  try {
    rendered = renderUnit(o);
  } catch (err) {
    expectCoded(err, ["USAGE", "SECRET_IN_COMMAND", "INVALID_NAME"]);
    assertNoCanary(err, CANARY);
    return;
  }
  check(!(withCanary && o.exec !== undefined), "an --exec word shaped like a key was accepted");
  let loads = 0;
  for (const file of rendered.files) {
    assertNoCanary({ message: file.content }, CANARY, `file ${file.path}`);
    const written = file.content.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
    const read = systemdDirectives(file.content);
    check(
      JSON.stringify(read) === JSON.stringify(written),
      `systemd reads ${file.path} differently from how it was written:\n${written.join("\n")}\n---\n${read.join("\n")}`,
    );
    for (const line of written) {
      if (/^\[[A-Za-z]+\]$/.test(line)) continue;
      const eq = line.indexOf("=");
      check(eq > 0 && /^[A-Z][A-Za-z]+$/.test(line.slice(0, eq)), `not a directive: ${line}`);
      checkValue(line.slice(0, eq), line.slice(eq + 1));
      if (line.startsWith("LoadCredentialEncrypted=") && !file.path.includes("-vault-")) loads++;
    }
  }
  check(loads === rendered.credentials.length + rendered.vaultCredentials.length, "LoadCredentialEncrypted count");
}
