// The reply parser of keyhold's job-server client (src/jobs/wire.ts): any bytes a socket peer may
// send, cut in two at a point the first byte chooses. Invariants: SERVER_ERROR or a reply with a
// final status whose body is no longer than the input; the same outcome however the bytes are cut;
// `end` only after the head, and at most once.
import { ResponseParser } from "../../dist/src/jobs/wire.js";
import { check, expectCoded } from "../support.mjs";

function parse(pieces) {
  const out = { status: undefined, body: [], ends: 0, error: undefined };
  const parser = new ResponseParser({
    head: (h) => {
      check(out.status === undefined, "a second head");
      out.status = h.status;
    },
    data: (b) => {
      check(out.status !== undefined && out.ends === 0, "body bytes outside the body");
      out.body.push(Buffer.from(b));
    },
    end: () => {
      check(out.status !== undefined, "the end before the head");
      out.ends++;
    },
  });
  try {
    for (const p of pieces) parser.push(p);
    parser.close();
  } catch (err) {
    expectCoded(err, ["SERVER_ERROR"]);
    out.error = err.code;
  }
  check(out.ends <= 1, "more than one end");
  return { ...out, body: Buffer.concat(out.body).toString("latin1") };
}

export function fuzz(data) {
  if (data.length === 0) return;
  const reply = data.subarray(1);
  const cut = data[0] % (reply.length + 1);
  const whole = parse([reply]);
  const split = parse([reply.subarray(0, cut), reply.subarray(cut)]);
  if (whole.error === undefined) {
    check(whole.status >= 200 && whole.status <= 599, `status ${whole.status}`);
    check(whole.ends === 1, "a reply parsed without error did not end");
    check(whole.body.length <= reply.length, "a body longer than the reply");
  }
  check(whole.error === split.error, `cut at ${cut}: ${whole.error} vs ${split.error}`);
  if (whole.error === undefined)
    check(whole.status === split.status && whole.body === split.body, `cut at ${cut}: another reply`);
}
