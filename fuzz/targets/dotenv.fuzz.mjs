// .env parsing (src/credstore/dotenv.ts). Invariants: INVALID_FORMAT or entries with valid names
// and non-empty values; an error never quotes a value (a canary assignment is added to every
// input); writing the entries back as KEY="escaped" lines and parsing again gives the same entries.
import { parseDotenv } from "../../dist/src/credstore/dotenv.js";
import { credentialNameProblem } from "../../dist/src/systemd/index.js";
import { assertNoCanary, check, expectCoded } from "../support.mjs";

const CANARY = "kh-dotenv-Zq7Wx2Lm9Pv4Rt8Yc3Nb";

function quote(value) {
  return `"${value.replace(/[\\"\n\r\t]/g, (c) => ({ "\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t" })[c])}"`;
}

export function fuzz(data) {
  const text = data.toString("utf8");
  const at = data.length > 0 ? data[0] % 3 : 0;
  const withCanary = [`KEYHOLD_FUZZ_CANARY=${CANARY}`, text].sort(() => at - 1).join("\n");
  let entries;
  try {
    entries = parseDotenv(".env", withCanary);
  } catch (err) {
    expectCoded(err, ["INVALID_FORMAT"]);
    assertNoCanary(err, CANARY);
    return;
  }
  check(entries.some((e) => e.value.expose() === CANARY), "the canary entry was lost");
  for (const e of entries) {
    check(credentialNameProblem(e.name) === undefined, `entry name ${e.name}`);
    check(e.value.expose().length > 0, `empty value for ${e.variable}`);
  }
  const again = parseDotenv(".env", entries.map((e) => `${e.variable}=${quote(e.value.expose())}`).join("\n"));
  check(again.length === entries.length, "round trip changed the number of entries");
  again.forEach((e, i) => {
    check(e.variable === entries[i].variable, `round trip changed ${entries[i].variable}`);
    check(e.value.expose() === entries[i].value.expose(), `round trip changed the value of ${e.variable}`);
  });
}
