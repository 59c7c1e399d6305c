import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDotenv } from "../../src/credstore/index.js";
import { SecretError } from "../../src/index.js";

const values = (text: string) => parseDotenv("app.env", text).map((e) => [e.name, e.value.expose()]);

describe("parseDotenv", () => {
  it("reads the forms dotenv files use", () => {
    assert.deepEqual(
      values(
        [
          "# comment",
          "PLAIN=abc",
          "export EXPORTED=def # trailing comment",
          "SINGLE='g h # not a comment'",
          'DOUBLE="line\\nnext"',
          'ESCAPED="abc\\" # still inside"',
          "BACKTICK=`tick`",
          "",
        ].join("\n"),
      ),
      [
        ["plain", "abc"],
        ["exported", "def"],
        ["single", "g h # not a comment"],
        ["double", "line\nnext"],
        ["escaped", 'abc" # still inside'],
        ["backtick", "tick"],
      ],
    );
  });

  it("refuses the whole file on one bad line, naming the line and never the value", () => {
    for (const [text, line] of [
      ["A=1\nnot an assignment\n", 2],
      ['A="unterminated\n', 1],
      ["A=1\nA=2\n", 2],
      ["A=\n", 1],
      ['A="x" trailing\n', 1],
    ] as const) {
      assert.throws(
        () => parseDotenv("app.env", text),
        (e: unknown) =>
          e instanceof SecretError && e.code === "INVALID_FORMAT" && e.message.startsWith(`app.env:${line}:`),
        text,
      );
    }
    assert.throws(() => parseDotenv("app.env", "# nothing\n"), { code: "INVALID_FORMAT" });
  });
});
