// The data: values of Kubernetes Secrets (src/scan/kubernetes-secret.ts), which a scanned
// repository writes, decoded and scanned with every rule (src/scan/detect.ts).
// Mode 0 (first byte even): the bytes as a manifest. Invariants: each value found lies inside the
// text, is base64 of 8 characters or more (a multiple of 4), decodes to exactly `decoded`, which
// holds no NUL; detect() over the text throws nothing and places every match inside it.
// Mode 1 (odd): the bytes base64-encoded under a Secret's data:. Invariant: the value is found
// with the bytes as its decoded form, unless it is shorter than 8 characters or holds a NUL.
import { detect, PATTERN_RULES } from "../../dist/src/scan/index.js";
import { secretDataValues } from "../../dist/src/scan/kubernetes-secret.js";
import { check } from "../support.mjs";

function checkValues(text) {
  const values = secretDataValues(text);
  for (const v of values) {
    check(v.start >= 0 && v.start < v.end && v.end <= text.length, "value inside the text");
    const written = text.slice(v.start, v.end);
    check(
      /^[A-Za-z0-9+/]+={0,2}$/.test(written) && written.length >= 8 && written.length % 4 === 0,
      "value is base64",
    );
    check(Buffer.from(written, "base64").equals(v.decoded), "decoded as written");
    check(!v.decoded.includes(0), "binary values are skipped");
    check(/^[A-Za-z0-9_.-]{1,253}$/.test(v.name), "a key's name");
  }
  return values;
}

export function fuzz(data) {
  if (data.length === 0) return;
  const body = Buffer.from(data.subarray(1));
  if ((data[0] & 1) === 0) {
    const text = body.toString("latin1");
    checkValues(text);
    for (const d of detect(body, "secret.yaml", PATTERN_RULES, undefined, { budgetMs: 2000 })) {
      check(d.start >= 0 && d.end <= text.length && d.start <= d.end, `${d.rule} placed inside the text`);
    }
    return;
  }
  const encoded = body.toString("base64");
  const text = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: fuzz\ndata:\n  blob: ${encoded}\n`;
  const values = checkValues(text);
  if (encoded.length >= 8 && !body.includes(0)) {
    check(values.length === 1 && values[0].decoded.equals(body), "the value is read back");
  } else check(values.length === 0, "a short or binary value is not read");
}
